import { afterAll } from 'vitest';
import { removeTempDirs } from './temp.js';

// Every test file leaves the temp folders it made behind it: none outlive the run.
afterAll(removeTempDirs);
