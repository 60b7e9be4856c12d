/**
 * A run's cost forecast in the few words the Run dialog's title has room for:
 * `forecast $0.0300–$0.0480 (p50–p95 of 5 runs)`, and whether the run will wait for the operator.
 */
import type { CostForecast } from '@keel/schemas';

export function forecastTitle(forecast: CostForecast): string {
  const money = (usd: number): string => `$${usd < 1 ? usd.toFixed(4) : usd.toFixed(2)}`;
  const base =
    forecast.basis === 'history' && forecast.p50Usd !== null && forecast.p95Usd !== null
      ? `forecast ${money(forecast.p50Usd)}–${money(forecast.p95Usd)} (p50–p95 of ${forecast.runs} run${forecast.runs === 1 ? '' : 's'})`
      : `forecast: no history, budget ${money(forecast.budgetUsd)}`;
  return forecast.waits && forecast.costAboveUsd !== null
    ? `${base} · above costAbove ${money(forecast.costAboveUsd)}: waits for your OK`
    : base;
}
