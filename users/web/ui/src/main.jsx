// Locust's own dashboard from the locust-ui package, with the WebSocket view as its first tab, the start form's
// option groups open and our fields (FormGroups, put in by vite.config.js) holding the server's values.
import { CssBaseline, ThemeProvider, createTheme } from '@mui/material';
import {
  Layout,
  SWARM_STATE,
  SwarmForm,
  Tabs,
  baseTabs,
  locustStore,
  useCreateTheme,
  useFetchStats,
  useFetchWorkerCount,
  useLogViewer,
} from 'locust-ui';
import { useEffect, useMemo } from 'react';
import ReactDOM from 'react-dom/client';
import { Provider, useDispatch, useSelector } from 'react-redux';

import WebSocketView from './WebSocketView';

const camel = (name) => name.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
const camelKeys = (object) => Object.fromEntries(Object.entries(object).map(([key, value]) => [camel(key), value]));

// The form's own fields as the server runs them now (GET /websocket/form) at every state change: New shows the
// last run's values, Edit the running ones (only those a running test takes). Locust's page keeps the values it
// was loaded with otherwise.
function useServerForm(state) {
  const dispatch = useDispatch();
  useEffect(() => {
    let current = true;
    fetch('./websocket/form')
      .then((response) => response.json())
      .then(({ extra_options: options }) => {
        const extraOptions = Object.fromEntries(
          options.map(([name, option]) => [camel(name), camelKeys(option)]),
        );
        if (current) dispatch({ type: 'swarm/setSwarm', payload: { extraOptions } });
      })
      .catch(() => {});
    return () => {
      current = false;
    };
  }, [state, dispatch]);
}

const tabs = [{ key: 'websocket', title: 'WebSocket', component: WebSocketView }, ...baseTabs];

function Dashboard() {
  useFetchStats();
  useFetchWorkerCount();
  useLogViewer();
  const locustTheme = useCreateTheme();
  const theme = useMemo(
    () => createTheme(locustTheme, { components: { MuiAccordion: { defaultProps: { defaultExpanded: true } } } }),
    [locustTheme],
  );
  const state = useSelector(({ swarm }) => swarm.state);
  useServerForm(state);
  return (
    <ThemeProvider theme={theme}>
      <CssBaseline />
      <Layout>{state === SWARM_STATE.READY ? <SwarmForm /> : <Tabs tabs={tabs} />}</Layout>
    </ThemeProvider>
  );
}

ReactDOM.createRoot(document.getElementById('root')).render(
  <Provider store={locustStore}>
    <Dashboard />
  </Provider>,
);
