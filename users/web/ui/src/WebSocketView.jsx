// The WebSocket tab: polls /websocket/series once a second; live charts and figures while the run goes, the
// run's final totals and mean rates once it has ended (never a stale live rate).
import { Alert, Box, Paper, Table, TableBody, TableCell, TableRow, Typography } from '@mui/material';
import { SWARM_STATE } from 'locust-ui';
import { useEffect, useMemo, useState } from 'react';
import { useSelector } from 'react-redux';

import { CHARTS, chartData, formatNumber } from './charts';
import { finalRows, liveRows } from './figures';
import StageChart from './StageChart';

const POLL_MS = 1000;
const MAX_POINTS = 3600;

function usePolledSeries() {
  const [series, setSeries] = useState(null);
  useEffect(() => {
    let cancelled = false;
    let timer = null;
    let next = 0;
    let startedAt = null;
    let points = [];
    const poll = async () => {
      try {
        const response = await fetch(`./websocket/series?since=${next}`);
        const body = await response.json();
        if (body.started_at !== startedAt) {
          const refetch = next !== 0;
          startedAt = body.started_at;
          points = [];
          next = 0;
          if (refetch) return poll();
        }
        points = points.concat(body.points).slice(-MAX_POINTS);
        next = body.next;
        if (!cancelled) setSeries({ ...body, points });
      } catch (error) {
        // the next poll tries again (Locust restarting, a slow master)
      }
      return undefined;
    };
    const loop = async () => {
      await poll();
      if (!cancelled) timer = setTimeout(loop, POLL_MS);
    };
    loop();
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, []);
  return series;
}

function StageBand({ stages, running }) {
  if (!stages.length) return null;
  const end = stages[stages.length - 1].end_s || 1;
  return (
    <Box data-testid='ws-stage-band' sx={{ display: 'flex', width: '100%', height: 28, my: 1 }}>
      {stages.map((stage, index) => {
        const current = running && index === stages.length - 1;
        return (
          <Box
            data-current={current ? 'true' : 'false'}
            key={`${stage.name}-${stage.start_s}`}
            sx={{
              flex: `${Math.max(stage.end_s - stage.start_s, end / 50)} 0 0`,
              bgcolor: current ? 'primary.main' : index % 2 ? 'action.selected' : 'action.hover',
              color: current ? 'primary.contrastText' : 'text.primary',
              border: 1,
              borderColor: 'divider',
              px: 1,
              overflow: 'hidden',
              whiteSpace: 'nowrap',
              fontSize: 13,
              lineHeight: '26px',
            }}
            title={`${stage.name}: ${formatNumber(stage.start_s, 1)}–${formatNumber(stage.end_s, 1)} s`}
          >
            {current ? `▶ ${stage.name}` : stage.name}
          </Box>
        );
      })}
    </Box>
  );
}

function Figures({ title, rows }) {
  return (
    <Paper sx={{ p: 2, mb: 2 }} variant='outlined'>
      <Typography sx={{ mb: 1 }} variant='subtitle1'>
        {title}
      </Typography>
      <Table size='small'>
        <TableBody>
          {rows.map(([key, label, value]) => (
            <TableRow key={key}>
              <TableCell sx={{ width: '40%' }}>{label}</TableCell>
              <TableCell data-testid={`ws-figure-${key}`}>{value}</TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </Paper>
  );
}

export default function WebSocketView() {
  const series = usePolledSeries();
  const swarmState = useSelector(({ swarm }) => swarm.state);
  const isDarkMode = useSelector(({ theme }) => theme.isDarkMode);
  const charts = useMemo(
    () => (series ? chartData(series.points, series.started_at, series.targets) : null),
    [series],
  );
  if (!series) return <Typography>Loading the WebSocket view…</Typography>;
  const stopping = series.running && swarmState !== SWARM_STATE.RUNNING && swarmState !== SWARM_STATE.SPAWNING;
  let status = 'no run yet';
  if (series.final) status = 'finished';
  else if (stopping) status = 'stopping: waiting for the final counters';
  else if (series.running) status = 'running';
  const last = series.points[series.points.length - 1];
  return (
    <Box data-status={status} data-testid='ws-view'>
      <Typography data-testid='ws-stage' variant='h6'>
        Stage: {series.stage_line}
      </Typography>
      <Typography color='text.secondary' data-testid='ws-status' variant='body2'>
        Run {status}
        {series.workers ? ` · workers: ${series.workers}` : ''}
      </Typography>
      {series.error && (
        <Alert data-testid='ws-error' severity='error' sx={{ my: 1 }}>
          {series.error}
        </Alert>
      )}
      <StageBand running={series.running && !stopping} stages={series.stages} />
      {stopping && <Alert severity='info'>Stopped: the final totals follow once every count is in.</Alert>}
      {series.final && <Figures rows={finalRows(series.final, series.targets)} title='Final totals (whole run)' />}
      {series.running && !stopping && last && (
        <Figures rows={liveRows(last, series)} title='Now (rates over the last 3 s)' />
      )}
      <Box sx={{ display: 'grid', gridTemplateColumns: { xs: '1fr', lg: '1fr 1fr' }, gap: 2 }}>
        {CHARTS.map((chart) => (
          <Box
            data-points={series.points.length}
            data-testid={`ws-chart-${chart.id}`}
            key={`${chart.id}-${series.started_at}`} // a new run: a new time axis
          >
            <StageChart
              colors={chart.colors}
              data={charts}
              isDarkMode={isDarkMode}
              lines={chart.lines}
              logScale={chart.logScale}
              running={series.running && !stopping}
              stages={series.stages}
              startedAt={series.started_at}
              title={chart.title}
            />
          </Box>
        ))}
      </Box>
      <Typography color='text.secondary' sx={{ mt: 1 }} variant='body2'>
        Same counters as PREFIX_ws.csv{series.workers ? ', summed over the workers' : ''}. Messages/s target{' '}
        {formatNumber(series.targets.messages_per_s)}, stretch {formatNumber(series.targets.stretch_messages_per_s)}.
      </Typography>
    </Box>
  );
}
