// Splitting a command line the way Python's shlex.split does in POSIX mode
// (what supervisord does with `command=`): whitespace separates words, '...'
// keeps everything, "..." keeps all but \" and \\ escapes, a backslash
// outside quotes escapes the next character. No expansion of any kind.

/** The words of `line`, or the problem (an unclosed quote). */
export function shlexSplit(line: string): { words: string[] } | { error: string } {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) return { error: 'no closing quotation' };
      cur += line.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\' && j + 1 < line.length && '"\\'.includes(line[j + 1]!)) j++;
        cur += line[j];
      }
      if (j >= line.length) return { error: 'no closing quotation' };
      i = j;
      inWord = true;
    } else if (c === '\\') {
      if (i + 1 >= line.length) return { error: 'no escaped character' };
      cur += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return { words };
}
