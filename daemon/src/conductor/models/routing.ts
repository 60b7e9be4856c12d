/**
 * Cost-aware routing: which tier a run of a runbook with `model: { route: cheapest-passing }` uses,
 * chosen once when the run starts from the latest `keel eval` of each tier, and the next tier a
 * step goes on to when its answer fails on the chosen one.
 */
import type { ModelTier, RunbookModel } from '@keel/schemas';

/** A tier's latest eval for the runbook: how many of its results passed, of how many. */
export interface TierEval {
  passed: number;
  total: number;
}

export interface RouteChoice {
  tier: string;
  /** The route's tiers, cheapest first: a failing step escalates along them. */
  tiers: string[];
  /** Why, in words, for the trace and `keel run`: `tier fast: latest eval 3/3 passed`. */
  reason: string;
}

/**
 * The route's tiers in keel.yaml, cheapest first (input + output price per million tokens; the
 * runbook's order breaks ties). A tier keel.yaml does not have is refused, naming the fix.
 */
export function routeTiers(
  runbookName: string,
  tiers: readonly string[],
  configured: Record<string, ModelTier>,
): string[] {
  const missing = tiers.filter((tier) => !Object.hasOwn(configured, tier));
  if (missing.length > 0) {
    throw new Error(
      `runbook ${runbookName}: model.tiers names ${missing.map((t) => `"${t}"`).join(', ')}, not in keel.yaml models.tiers (it has: ${Object.keys(configured).join(', ') || 'none'}); add the tier to keel.yaml or remove it from the route`,
    );
  }
  const price = (tier: string): number =>
    configured[tier]!.inputUsdPerMTok + configured[tier]!.outputUsdPerMTok;
  return [...new Set(tiers)]
    .map((tier, index) => ({ tier, index }))
    .sort((a, b) => price(a.tier) - price(b.tier) || a.index - b.index)
    .map(({ tier }) => tier);
}

/**
 * The cheapest tier whose latest eval passed at least `passRate` of its results. Tiers never
 * evaluated are passed over; when none passes, the first never evaluated (it may pass), else the
 * strongest (dearest). An eval whose counts are not sane numbers (a damaged row) counts as none.
 */
export function chooseTier(
  ordered: readonly string[],
  passRate: number,
  latest: (tier: string) => TierEval | null,
): RouteChoice {
  const tiers = [...ordered];
  const needed = Number.isFinite(passRate) ? Math.min(Math.max(passRate, 0), 1) : 1;
  const unevaluated: string[] = [];
  const failed: string[] = [];
  for (const tier of tiers) {
    const found = sane(latest(tier));
    if (!found) {
      unevaluated.push(tier);
      continue;
    }
    const score = `latest eval ${found.passed}/${found.total} passed`;
    if (found.passed / found.total >= needed) {
      const skipped = [...failed, ...unevaluated.map((t) => `${t} never evaluated`)];
      return {
        tier,
        tiers,
        reason: `tier ${tier}: ${score}${skipped.length ? ` (${skipped.join('; ')})` : ''}`,
      };
    }
    failed.push(`${tier} ${score}`);
  }
  const failedText = failed.length ? `no tier passed its eval (${failed.join('; ')})` : 'no tier has an eval';
  if (unevaluated.length > 0) {
    return {
      tier: unevaluated[0]!,
      tiers,
      reason: `tier ${unevaluated[0]}: ${failedText}; never evaluated, so tried`,
    };
  }
  const strongest = tiers.at(-1)!;
  return { tier: strongest, tiers, reason: `tier ${strongest}: ${failedText}; the strongest tier` };
}

/** The tier after `tier` on the route, or null at its end (or off it). */
export function nextTier(route: Pick<RunbookModel, 'route' | 'tiers'>, tier: string): string | null {
  if (!route.route || !route.tiers) return null;
  const at = route.tiers.indexOf(tier);
  return at >= 0 ? (route.tiers[at + 1] ?? null) : null;
}

function sane(found: TierEval | null): TierEval | null {
  if (!found) return null;
  const { passed, total } = found;
  if (!Number.isInteger(total) || !Number.isInteger(passed) || total <= 0 || passed < 0 || passed > total)
    return null;
  return { passed, total };
}

/**
 * Chooses the tier for a run starting now, or null when the runbook has no route. `latest` reads
 * the eval store; a store that cannot be read counts as no evals (the run still starts).
 */
export async function routeRun(
  runbook: { name: string; model: Pick<RunbookModel, 'route' | 'tiers' | 'passRate'> },
  configured: Record<string, ModelTier>,
  latest: (runbook: string, tiers: readonly string[]) => Promise<Map<string, TierEval | null>>,
): Promise<RouteChoice | null> {
  const { model } = runbook;
  if (!model.route || !model.tiers) return null;
  const ordered = routeTiers(runbook.name, model.tiers, configured);
  const evals = await latest(runbook.name, ordered).catch(() => new Map<string, TierEval | null>());
  return chooseTier(ordered, model.passRate ?? 1, (tier) => evals.get(tier) ?? null);
}

/** The runbook as a run with this choice runs it: the chosen tier, and the route cheapest first. */
export function routedRunbook<T extends { model: RunbookModel }>(
  runbook: T,
  choice: Pick<RouteChoice, 'tier' | 'tiers'> | undefined,
): T {
  if (!choice || !runbook.model.route) return runbook;
  return { ...runbook, model: { ...runbook.model, tier: choice.tier, tiers: choice.tiers } };
}
