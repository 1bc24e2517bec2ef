/**
 * A fine-tune at the target (the polish, the last try) still improving when a default budget runs out gets the default
 * rule's steps again on small data (docs/agent.md, "Budget"); a budget the user set is a limit.
 */
import { describe, expect, it } from 'vitest';
import { numTensors, runSmallCase } from '../helpers.js';

const run = (budgetSteps?: number) => runSmallCase('penguins-species', { target: 0.8, ...(budgetSteps != null ? { budgetSteps } : {}) });

describe('a fine-tune at the target still improving when the default budget runs out', () => {
  it('gets the default budget again, said in a budget event, and goes on as one polish; a budget the user set is not extended', async () => {
    const before = numTensors();
    const { r, events } = await run();
    const budget = events.filter((e) => e.type === 'budget');
    expect(budget.length).toBeGreaterThan(0);
    const base = (events.find((e) => e.type === 'start') as { budgetSteps: number }).budgetSteps;
    budget.forEach((e, i) => {
      expect(e).toMatchObject({ extensions: i + 1, budgetSteps: (i + 2) * base });
      expect(e.message).toMatch(/^the polish was still improving when the default fine-tuning budget ran out: extended (once|again \(\d+× the default budget\)), to \d+ optimizer steps$/);
    });
    expect(r.budget.budgetSteps).toBe((budget.length + 1) * base);
    expect(r.totals.fineTuneSteps).toBeGreaterThan(base);
    expect(r.totals.fineTuneSteps).toBeLessThanOrEqual(r.budget.budgetSteps);
    // One polish: its rounds count on across the extension, and its record sums its steps.
    const rounds = events.flatMap((e) => (e.type === 'epoch' && e.phase === 'polish' ? [e.epoch] : []));
    rounds.forEach((k, i) => expect(k).toBe(i));
    expect(events.filter((e) => e.type === 'polish')).toHaveLength(1);
    expect(r.polish!.steps).toBeGreaterThan(r.budget.roundSteps * (rounds.length - 1));
    expect(r.exitCode).toBe(0);

    // The same budget set by hand: a limit.
    const set = await run(base);
    expect(set.events.some((e) => e.type === 'budget')).toBe(false);
    expect(set.r.totals.fineTuneSteps).toBeLessThanOrEqual(base);
    expect(numTensors()).toBe(before);
  }, 60_000);
});
