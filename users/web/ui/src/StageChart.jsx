// One chart of the WebSocket view: echarts lines over the run's time, each stage of the plan as a shaded,
// labelled band (the current one stronger), optionally a log scale (messages/s next to the 50K/200K targets).
import { LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, MarkAreaComponent, TitleComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { useEffect, useRef } from 'react';

echarts.use([LineChart, GridComponent, LegendComponent, MarkAreaComponent, TitleComponent, TooltipComponent, CanvasRenderer]);

const THEMES = {
  light: { text: '#000', axis: '#666', split: '#ddd', stage: 'rgba(21, 128, 61, 0.07)', current: 'rgba(21, 128, 61, 0.2)' },
  dark: { text: '#b3c3bc', axis: '#5b6f66', split: '#4c4c52', stage: 'rgba(0, 200, 83, 0.08)', current: 'rgba(0, 200, 83, 0.25)' },
};

const HEIGHT = 320;
const GRID = { left: 70, right: 30, top: 80, bottom: 30 };

const timeLabel = (value) => new Date(value).toLocaleTimeString([], { hour12: false });

function stageAreas(stages, startedAt, running, theme) {
  return stages.map((stage, index) => {
    const current = running && index === stages.length - 1;
    return [
      {
        name: current ? `▶ ${stage.name}` : stage.name,
        xAxis: (startedAt + stage.start_s) * 1000,
        itemStyle: { color: current ? theme.current : index % 2 ? 'transparent' : theme.stage },
        label: { color: theme.text, fontWeight: current ? 'bold' : 'normal' },
      },
      { xAxis: (startedAt + stage.end_s) * 1000 },
    ];
  });
}

function options({ title, lines, colors, data, logScale, stages, startedAt, running, isDarkMode }) {
  const theme = isDarkMode ? THEMES.dark : THEMES.light;
  return {
    animation: false, // a new point each second: no replay of the drawing animation
    backgroundColor: 'transparent',
    color: colors,
    title: { text: title, textStyle: { color: theme.text, fontSize: 16 } },
    legend: { top: 26, textStyle: { color: theme.text }, icon: 'circle' },
    tooltip: { trigger: 'axis' },
    grid: GRID,
    xAxis: {
      type: 'time',
      splitNumber: 4,
      axisLabel: { formatter: timeLabel, color: theme.text },
      axisLine: { lineStyle: { color: theme.axis } },
    },
    yAxis: {
      type: logScale ? 'log' : 'value',
      min: logScale ? 1 : 0,
      axisLabel: { color: theme.text },
      splitLine: { lineStyle: { color: theme.split } },
    },
    series: lines.map(({ key, name }, index) => ({
      type: 'line',
      name,
      showSymbol: false,
      connectNulls: false,
      data: logScale ? data[key].map(([t, v]) => [t, v > 0 ? v : null]) : data[key],
      ...(index === 0
        ? { markArea: { silent: true, label: { position: 'insideTop' }, data: stageAreas(stages, startedAt, running, theme) } }
        : {}),
    })),
  };
}

export default function StageChart(props) {
  const element = useRef(null);
  const chart = useRef(null);
  useEffect(() => {
    chart.current = echarts.init(element.current);
    const resize = () => chart.current.resize();
    window.addEventListener('resize', resize);
    return () => {
      window.removeEventListener('resize', resize);
      chart.current.dispose();
    };
  }, []);
  useEffect(() => {
    chart.current.setOption(options(props)); // the same lines each time: merged by index
  });
  return <div data-colors={props.colors.join(',')} ref={element} style={{ width: '100%', height: HEIGHT }} />;
}
