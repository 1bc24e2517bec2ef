import { describe, expect, it } from 'vitest';
import { backendInfo, selectBackend, tf } from '../../src/backend/tf.js';
import { UsageError } from '../../src/errors.js';

describe('backend', () => {
  it('runs on native TensorFlow after npm install', () => {
    const info = backendInfo();
    expect(info.native).toBe(true);
    expect(info.name).toBe('tensorflow');
    expect(tf.getBackend()).toBe('tensorflow');
  });

  it('refuses to switch backends inside one process', () => {
    expect(() => selectBackend('cpu')).toThrow(UsageError);
  });
});
