/**
 * The README's walkthrough is a tested contract: fenced blocks whose info string is
 * `bash walkthrough` are run by the end-to-end test, and `<!-- expect: REGEX -->` comments right
 * above a block say what its output must contain.
 */
export interface WalkthroughBlock {
  /** Nearest heading above the block, for test names. */
  heading: string;
  code: string;
  expect: RegExp[];
  /** 1-based line of the opening fence, for error messages. */
  line: number;
}

export function parseWalkthrough(markdown: string): WalkthroughBlock[] {
  const lines = markdown.split(/\r?\n/);
  const blocks: WalkthroughBlock[] = [];
  let heading = '(top)';
  let pendingExpect: RegExp[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const h = /^#{1,6}\s+(.*)$/.exec(line);
    if (h) {
      heading = (h[1] as string).trim();
      pendingExpect = [];
      continue;
    }
    const e = /^<!--\s*expect:\s*(.*?)\s*-->$/.exec(line.trim());
    if (e) {
      pendingExpect.push(new RegExp(e[1] as string));
      continue;
    }
    if (/^```bash\s+walkthrough\s*$/.test(line)) {
      const start = i + 1;
      const body: string[] = [];
      for (i++; i < lines.length && !/^```\s*$/.test(lines[i] as string); i++) body.push(lines[i] as string);
      if (i >= lines.length) throw new Error(`README line ${start}: walkthrough block is not closed`);
      blocks.push({ heading, code: body.join('\n'), expect: pendingExpect, line: start });
      pendingExpect = [];
    }
  }
  return blocks;
}
