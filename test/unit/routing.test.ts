/**
 * Cost-aware routing: a routed runbook's tiers cheapest first by keel.yaml's prices, the cheapest
 * whose latest eval passed chosen (never-evaluated tiers passed over unless nothing passed), the
 * next tier on the route for a failing step, and the `model:` forms a runbook may write.
 */
import { describe, expect, it } from 'vitest';
import { ModelTier, Runbook } from '@keel/schemas';
import { chooseTier, nextTier, routeTiers, type TierEval } from '../../daemon/src/conductor/models/routing';
import { ownChecks } from '../../daemon/src/conductor/steps/llm';

const tiers = {
  strong: ModelTier.parse({ model: 'gpt-4o', inputUsdPerMTok: 2.5, outputUsdPerMTok: 10 }),
  fast: ModelTier.parse({ model: 'gpt-4o-mini', inputUsdPerMTok: 0.15, outputUsdPerMTok: 0.6 }),
  mid: ModelTier.parse({ model: 'mid', inputUsdPerMTok: 1, outputUsdPerMTok: 2 }),
};

const evals =
  (found: Record<string, TierEval>) =>
  (tier: string): TierEval | null =>
    found[tier] ?? null;

describe('routing', () => {
  it('orders the route by price, whatever order the runbook lists it in', () => {
    expect(routeTiers('reply', ['strong', 'fast', 'mid'], tiers)).toEqual(['fast', 'mid', 'strong']);
  });

  it('refuses a tier keel.yaml does not have, naming it and the fix', () => {
    expect(() => routeTiers('reply', ['fast', 'turbo'], tiers)).toThrow(
      /runbook reply: model.tiers names "turbo", not in keel.yaml models.tiers \(it has: strong, fast, mid\); add the tier/,
    );
  });

  it('chooses the cheapest tier whose latest eval passed, and says why', () => {
    const order = ['fast', 'mid', 'strong'];
    expect(
      chooseTier(order, 1, evals({ fast: { passed: 3, total: 3 }, strong: { passed: 3, total: 3 } })),
    ).toEqual({
      tier: 'fast',
      tiers: order,
      reason: 'tier fast: latest eval 3/3 passed',
    });
    const choice = chooseTier(
      order,
      1,
      evals({ fast: { passed: 2, total: 3 }, strong: { passed: 1, total: 1 } }),
    );
    expect(choice.tier).toBe('strong');
    expect(choice.reason).toBe(
      'tier strong: latest eval 1/1 passed (fast latest eval 2/3 passed; mid never evaluated)',
    );
    // A lower bar lets the cheap tier through.
    expect(chooseTier(order, 0.6, evals({ fast: { passed: 2, total: 3 } })).tier).toBe('fast');
  });

  it('tries a never-evaluated tier when no evaluated one passed, else the strongest', () => {
    const order = ['fast', 'mid', 'strong'];
    const untried = chooseTier(order, 1, evals({ fast: { passed: 0, total: 2 } }));
    expect(untried).toMatchObject({ tier: 'mid' });
    expect(untried.reason).toMatch(
      /^tier mid: no tier passed its eval \(fast latest eval 0\/2 passed\); never evaluated/,
    );
    expect(chooseTier(order, 1, evals({})).reason).toBe(
      'tier fast: no tier has an eval; never evaluated, so tried',
    );
    const none = chooseTier(
      order,
      1,
      evals({ fast: { passed: 0, total: 1 }, mid: { passed: 0, total: 1 }, strong: { passed: 0, total: 1 } }),
    );
    expect(none.tier).toBe('strong');
    expect(none.reason).toMatch(/the strongest tier$/);
  });

  it('counts an eval with counts that are not numbers (a damaged row) as no eval, and a NaN bar as 1', () => {
    const order = ['fast', 'strong'];
    const hostile = evals({
      fast: { passed: Number.NaN, total: Number.NaN },
      strong: { passed: 5, total: 3 },
    });
    expect(chooseTier(order, 1, hostile)).toMatchObject({ tier: 'fast' });
    expect(
      chooseTier(order, Number.NaN, evals({ fast: { passed: 1, total: 2 }, strong: { passed: 1, total: 1 } }))
        .tier,
    ).toBe('strong');
  });

  it('escalates along the route and stops at its end', () => {
    const model = { route: 'cheapest-passing' as const, tiers: ['fast', 'strong'] };
    expect(nextTier(model, 'fast')).toBe('strong');
    expect(nextTier(model, 'strong')).toBeNull();
    expect(nextTier({ tiers: undefined }, 'fast')).toBeNull();
  });

  it("holds a step to the run's success checks that read only its own output", () => {
    const runbook = Runbook.parse({
      apiVersion: 'keel/v1',
      name: 'brief',
      role: 'Ops',
      description: 'd',
      steps: [
        { id: 'facts', type: 'llm', prompt: 'p' },
        { id: 'brief', type: 'llm', prompt: 'p' },
      ],
      success: [
        "steps.brief.output contains 'Tuesday'",
        { check: 'steps.brief.output.size > 10', description: 'a real brief' },
        'steps.brief.output.size > steps.facts.output.size',
        'outputs.brief != blank and steps.brief.output != blank',
        'steps.facts.output != blank',
      ],
    });
    expect(ownChecks(runbook, 'brief')).toEqual([
      { check: "steps.brief.output contains 'Tuesday'", label: "steps.brief.output contains 'Tuesday'" },
      { check: 'steps.brief.output.size > 10', label: 'a real brief' },
    ]);
    expect(ownChecks(runbook, 'facts').map((c) => c.check)).toEqual(['steps.facts.output != blank']);
  });

  it('parses `model: { route }` with the first listed tier as its tier, and refuses half a route', () => {
    const base = {
      apiVersion: 'keel/v1',
      name: 'r',
      role: 'x',
      description: 'y',
      steps: [{ id: 's', type: 'llm', prompt: 'p' }],
    };
    const routed = Runbook.parse({
      ...base,
      model: { route: 'cheapest-passing', tiers: ['strong', 'fast'], passRate: 0.8 },
    });
    expect(routed.model).toEqual({
      tier: 'strong',
      route: 'cheapest-passing',
      tiers: ['strong', 'fast'],
      passRate: 0.8,
    });
    expect(Runbook.parse({ ...base, model: { tier: 'strong' } }).model).toEqual({ tier: 'strong' });
    expect(
      Runbook.safeParse({ ...base, model: { route: 'cheapest-passing' } }).error?.issues[0]?.message,
    ).toMatch(/a route needs `tiers/);
    expect(Runbook.safeParse({ ...base, model: { tiers: ['fast'] } }).success).toBe(false);
    expect(
      Runbook.safeParse({ ...base, model: { route: 'cheapest-passing', tiers: ['fast'], passRate: 1.5 } })
        .success,
    ).toBe(false);
  });
});
