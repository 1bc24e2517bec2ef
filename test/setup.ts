import { afterAll } from 'vitest';
import { mulberry32 } from '../src/util/seeded-random.js';
import { removeTempDirs } from './temp.js';

// tfjs seeds every unseeded random tensor (a layer's initial weights, Dropout's noise) from Math.random: seeded
// here, each test file builds the same models on every run, so no test passes or fails by the draw of its weights.
Math.random = mulberry32(0x5eed);

// Every test file leaves the temp folders it made behind it: none outlive the run.
afterAll(removeTempDirs);
