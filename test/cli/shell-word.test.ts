/** The "Resume with:" line quotes each word so that, pasted into a POSIX shell, it gives back the same arguments. */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { shellWord } from '../../src/cli/prune.js';

describe('shellWord', () => {
  it('leaves plain words alone and quotes the rest so that a shell reads each back whole', () => {
    const words = ['-o', 'plain/path.csv', '0.95', "it's out", 'ünï 模型/-model', 'a b', '$HOME', '*.csv', 'x"y', ''];
    expect(words.slice(0, 3).map(shellWord)).toEqual(['-o', 'plain/path.csv', '0.95']);
    const line = words.map(shellWord).join(' ');
    const back = execFileSync('sh', ['-c', `for w in ${line}; do printf '%s\\0' "$w"; done`], { encoding: 'utf8' }).split('\0').slice(0, -1);
    expect(back).toEqual(words);
  });
});
