// Passwords for the command line: the first line of stdin (--password-stdin), or a prompt that
// does not echo. Never an argument: arguments end up in shell history and `ps`.
import { createInterface } from 'node:readline';

async function firstLineOfStdin(): Promise<string> {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    lines.close();
    return line;
  }
  return '';
}

async function prompt(question: string): Promise<string> {
  if (!process.stdin.isTTY) throw Object.assign(new Error('no terminal to ask for a password: use --password-stdin'), { name: 'CommandError' });
  process.stderr.write(question);
  process.stdin.setRawMode(true);
  process.stdin.resume();
  let value = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') {
          process.stdin.setRawMode(false);
          process.stdin.pause();
          process.stdin.off('data', onData);
          process.stderr.write('\n');
          resolve(value);
          return;
        }
        if (char === '\u0003') {
          process.stdin.setRawMode(false);
          reject(Object.assign(new Error('cancelled'), { name: 'CommandError' }));
          return;
        }
        value = char === '\u007f' ? value.slice(0, -1) : value + char;
      }
    };
    process.stdin.on('data', onData);
  });
}

export async function readPassword(fromStdin: boolean): Promise<string> {
  if (fromStdin) return firstLineOfStdin();
  const first = await prompt('password: ');
  const again = await prompt('again: ');
  if (first !== again) throw Object.assign(new Error('the two passwords differ'), { name: 'CommandError' });
  return first;
}
