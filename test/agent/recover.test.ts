/**
 * A step the guard refuses by no more than its noise cap while its validation loss is still falling is fine-tuned
 * a few rounds more and judged again (AgentOptions.recoverRounds; docs/agent.md, "A step still recovering is judged
 * after more rounds"), on the small suite's gapminder-cluster table, where the rule was measured.
 */
import { describe, expect, it } from 'vitest';
import { AGENT_DEFAULTS } from '../../src/agent/loop.js';
import { numTensors, runSmallCase } from '../helpers.js';

// Seed 1: its steps past ~75 % are refused within the noise cap while still improving (with the policy domain's scorer,
// default@0.25+lamp, seed 0 no longer meets such a step on its path).
const run = (recoverRounds?: number) => runSmallCase('gapminder-cluster', { target: 0.9, seed: 1, ...(recoverRounds != null ? { recoverRounds } : {}) });

describe('a step still recovering', () => {
  it('is fine-tuned up to recoverRounds more rounds and judged again', async () => {
    const before = numTensors();
    const { r, events } = await run();
    expect(AGENT_DEFAULTS.recoverRounds).toBe(2);
    const round = r.budget.roundSteps;
    const recovered = r.steps.filter((s) => s.reason?.includes('judged after a longer fine-tune'));
    expect(recovered.length).toBeGreaterThan(0);
    for (const s of recovered) {
      // The step's own 2 rounds, then at most 2 more.
      expect(s.fineTuneSteps!).toBeGreaterThan(2 * round);
      expect(s.fineTuneSteps!).toBeLessThanOrEqual(4 * round);
      // Its rounds count on through the longer fine-tune (0, 1, 2, …), in one step's epoch events.
      const rounds = events.flatMap((e) => (e.type === 'epoch' && e.phase === 'fine-tune' && e.step === s.step ? [e.epoch] : []));
      rounds.forEach((k, i) => expect(k).toBe(i));
      expect(rounds.length).toBeGreaterThan(2);
    }
    // Every accepted step still holds the guard, and the totals count the longer fine-tunes.
    for (const s of r.steps.filter((x) => x.accepted)) expect(s.drop!).toBeLessThanOrEqual(s.allowedDrop! + 1e-9);
    expect(r.totals.fineTuneSteps).toBeLessThanOrEqual(r.budget.budgetSteps);
    expect(r.exitCode).toBe(0);
    expect(r.sparsity.global).toBeGreaterThanOrEqual(0.9 - 1e-3);

    // (Without the rule, recoverRounds: 0, a refused step is judged after its own rounds: the main path's longer fine-tune
    // needs at least a round of them, a frontier branch's recoverRounds > 0, src/agent/loop.ts. A second run here that
    // showed it was dropped to keep the suite within its time.)
    expect(numTensors()).toBe(before);
  }, 120_000);
});
