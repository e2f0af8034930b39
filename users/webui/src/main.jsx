// Locust's own dashboard from the locust-ui package, with the WebSocket view as its first tab and the
// start form's option groups open.
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
import { useMemo } from 'react';
import ReactDOM from 'react-dom/client';
import { Provider, useSelector } from 'react-redux';

import WebSocketView from './WebSocketView';

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
