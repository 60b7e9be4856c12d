/**
 * The Dashboard's charts, drawn by Chart.js (bundled into the webview script: no CDN, nothing loaded
 * at run time). Colours come from VS Code's theme variables and follow a theme change; every chart
 * carries a one-sentence aria-label, and its numbers are also in a table next to it.
 */
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from 'chart.js';
import type { BarSeries } from '../dashboardModel';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

type Bars = Chart<'bar', (number | null)[], string>;

/** VS Code's chart colours (`charts.*` theme colours), with fallbacks for themes that lack them. */
const PALETTE: [string, string][] = [
  ['--vscode-charts-blue', '#3794ff'],
  ['--vscode-charts-orange', '#d18616'],
  ['--vscode-charts-green', '#89d185'],
  ['--vscode-charts-purple', '#b180d7'],
  ['--vscode-charts-yellow', '#cca700'],
  ['--vscode-charts-red', '#f14c4c'],
];

function themeColor(name: string, fallback: string): string {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

function seriesColor(index: number): string {
  const [name, fallback] = PALETTE[index % PALETTE.length]!;
  return themeColor(name, fallback);
}

function applyThemeDefaults(): void {
  Chart.defaults.color = themeColor('--vscode-charts-foreground', themeColor('--vscode-foreground', '#ccc'));
  Chart.defaults.borderColor = themeColor('--vscode-charts-lines', 'rgba(128, 128, 128, 0.35)');
  Chart.defaults.font.family = themeColor('--vscode-font-family', 'sans-serif');
  Chart.defaults.font.size = 11;
}

/** One bar chart on a canvas of its own, updated in place as new data arrive. */
export class BarChart {
  readonly element: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private chart: Bars | null = null;
  private data: { labels: string[]; series: { name: string; values: (number | null)[] }[] } = {
    labels: [],
    series: [],
  };

  constructor(
    id: string,
    private readonly options: {
      stacked: boolean;
      horizontal: boolean;
      /** A tick or tooltip value in words: `$0.04`, `85%`, `1.2 s`. */
      format: (value: number) => string;
      max?: number;
    },
  ) {
    this.element = document.createElement('div');
    this.element.className = 'chart';
    this.canvas = document.createElement('canvas');
    this.canvas.id = id;
    this.canvas.setAttribute('role', 'img');
    this.element.append(this.canvas);
  }

  /** Shows the series; `label` is what a screen reader reads instead of the picture. */
  update(data: BarSeries, label: string): void {
    this.data = data;
    this.canvas.setAttribute('aria-label', label);
    this.canvas.textContent = label;
    if (!this.chart) this.chart = this.create();
    this.chart.data = this.chartData();
    this.chart.update('none');
  }

  /** The theme changed: new colours, same data. */
  restyle(): void {
    if (!this.chart) return;
    this.chart.destroy();
    this.chart = this.create();
  }

  private create(): Bars {
    applyThemeDefaults();
    const { stacked, horizontal, format, max } = this.options;
    const valueAxis = {
      stacked,
      beginAtZero: true,
      max,
      ticks: { callback: (value: string | number) => format(Number(value)), maxTicksLimit: 5 },
    };
    const categoryAxis = { stacked, grid: { display: false } };
    return new Chart<'bar', (number | null)[], string>(this.canvas, {
      type: 'bar',
      data: this.chartData(),
      options: {
        indexAxis: horizontal ? 'y' : 'x',
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: horizontal ? { x: valueAxis, y: categoryAxis } : { x: categoryAxis, y: valueAxis },
        plugins: {
          legend: { position: 'bottom', labels: { boxWidth: 10, boxHeight: 10 } },
          tooltip: {
            callbacks: {
              label: (item) => `${item.dataset.label ?? ''}: ${format(Number(item.raw))}`,
            },
          },
        },
      },
    });
  }

  private chartData(): Bars['data'] {
    return {
      labels: this.data.labels,
      datasets: this.data.series.map((s, i) => ({
        label: s.name,
        data: s.values,
        backgroundColor: seriesColor(i),
        borderWidth: 0,
        maxBarThickness: 18,
      })),
    };
  }
}
