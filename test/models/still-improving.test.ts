import { describe, expect, it } from 'vitest';
import { stillImproving } from '../../src/models/train.js';

describe('stillImproving (is a fine-tune\'s validation loss still going down at its end?)', () => {
  // A steady descent with round-to-round noise: the last round is not the lowest, the trend is down.
  const noisyDescent = [0.3755, 0.3745, 0.3716, 0.3746, 0.3643, 0.3627, 0.3661, 0.3665, 0.3666, 0.3597, 0.3588, 0.3620, 0.3571, 0.3558, 0.3546, 0.3548, 0.3549, 0.3548, 0.3501, 0.3508];

  it('sees a noisy descent whose last round is not its lowest', () => {
    expect(noisyDescent.indexOf(Math.min(...noisyDescent))).toBeLessThan(noisyDescent.length - 1);
    expect(stillImproving(noisyDescent, 1.64)).toBe(true);
  });

  it('does not see a flat, noisy curve or a rising one, even where its last round is the lowest', () => {
    const flat = [0.35, 0.352, 0.349, 0.351, 0.35, 0.353, 0.349, 0.351, 0.352, 0.35, 0.351, 0.348];
    expect(flat.indexOf(Math.min(...flat))).toBe(flat.length - 1);
    expect(stillImproving(flat, 1.64)).toBe(false);
    expect(stillImproving([0.30, 0.31, 0.32, 0.33, 0.34, 0.35], 1.64)).toBe(false);
  });

  it('judges only the last half of the curve, and needs four rounds', () => {
    // Fell early, flat since: not still improving.
    expect(stillImproving([0.9, 0.7, 0.5, 0.4, 0.35, 0.351, 0.349, 0.35, 0.352, 0.35], 1.64)).toBe(false);
    expect(stillImproving([0.5, 0.4, 0.3], 1.64)).toBe(false);
    expect(stillImproving([0.5, 0.4, 0.3, 0.2], 1.64)).toBe(true);
  });

  it('does not see a recovery from a spike that has not yet got below the loss before it', () => {
    // A new user's polish: the loss jumped, then came back down steadily, but not below its best before the jump.
    const spike = [0.40, 0.36, 0.33, 0.31, 0.30, 0.62, 0.55, 0.48, 0.42, 0.37, 0.34, 0.32, 0.31, 0.305];
    expect(stillImproving(spike, 1.64)).toBe(false);
    // A noisy descent whose window holds a lower round than its last ones is still one: its last quarter is compared with
    // the rounds before the window, not with the window's own lowest.
    const noisy = [0.60, 0.58, 0.57, 0.56, 0.55, 0.545, 0.54, 0.535, 0.53, 0.50, 0.525, 0.52, 0.515, 0.51, 0.505, 0.502];
    expect(Math.min(...noisy.slice(-2))).toBeGreaterThan(Math.min(...noisy.slice(8, 14)));
    expect(stillImproving(noisy, 1.64)).toBe(true);
    // Once it reaches below that best, it is improving again.
    expect(stillImproving([...spike, 0.295, 0.29], 1.64)).toBe(true);
  });

  it('does not see a plateau that moves by float noise alone (a learning rate decayed to nothing)', () => {
    // A new user's digits MLP: the polish's losses identical to 7 digits but for the last bits, falling by them.
    const plateau = Array.from({ length: 16 }, (_, i) => 0.7800410985946655 - i * 1e-9);
    expect(stillImproving(plateau, 1.64)).toBe(false);
    // A real, if slow, descent still is one (0.3 % of the loss over the window, its last 8 rounds).
    expect(stillImproving(Array.from({ length: 16 }, (_, i) => 0.78 - i * 3e-4), 1.64)).toBe(true);
  });
});
