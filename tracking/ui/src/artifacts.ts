/**
 * Artifact browser: a lazily expanded tree (artifacts/list per directory) and a preview pane.
 * Images are fetched and shown from a blob typed by extension, so an SVG renders in <img> (where its
 * scripts never run) whatever content type the store answers; text is shown with textContent only.
 */
import { artifactUrl, listArtifacts, type FileInfo } from './api.js';
import { emptyState, errorBox, h, replaceChildren } from './dom.js';
import { formatBytes } from './format.js';

const IMAGE_TYPES: Record<string, string> = {
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', svg: 'image/svg+xml', webp: 'image/webp',
};
const TEXT_TYPES = new Set(['txt', 'json', 'csv', 'tsv', 'md', 'log', 'yaml', 'yml', 'py', 'ts', 'js', 'html', 'xml', 'toml', 'ini', 'cfg', 'mlmodel']);
/** Text previews stop here so a huge log does not freeze the tab. */
const TEXT_PREVIEW_BYTES = 512 * 1024;
const CSV_PREVIEW_ROWS = 200;

function extension(path: string): string {
  const name = path.split('/').pop() ?? '';
  if (name === 'MLmodel') return 'mlmodel';
  const dot = name.lastIndexOf('.');
  return dot >= 0 ? name.slice(dot + 1).toLowerCase() : '';
}

function baseName(path: string): string {
  return path.split('/').pop() ?? path;
}

/** Minimal RFC 4180 reader: quoted fields, doubled quotes, CRLF. */
export function parseCsv(text: string, maxRows: number, delimiter = ','): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length && rows.length < maxRows; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === delimiter) {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if ((field || row.length) && rows.length < maxRows) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

export function artifactBrowser(runId: string, artifactUri: string | undefined, onLeave: (fn: () => void) => void): HTMLElement {
  const tree = h('div', { class: 'artifact-tree', 'data-testid': 'artifact-tree' });
  const preview = h('div', { class: 'artifact-preview', 'data-testid': 'artifact-preview' },
    h('p', { class: 'muted' }, 'Select a file to preview it.'));
  const container = h('div', { class: 'artifacts' }, tree, preview);
  const objectUrls: string[] = [];
  onLeave(() => objectUrls.forEach((u) => URL.revokeObjectURL(u)));
  let selectedButton: HTMLElement | undefined;
  let previewGeneration = 0;

  const showFile = async (file: FileInfo, button: HTMLElement): Promise<void> => {
    selectedButton?.classList.remove('selected');
    button.classList.add('selected');
    selectedButton = button;
    const generation = ++previewGeneration;
    const url = artifactUrl(artifactUri, file.path);
    const ext = extension(file.path);
    const head = h('div', { class: 'head' },
      h('strong', { class: 'mono' }, file.path),
      h('span', null, h('span', { class: 'muted' }, formatBytes(file.file_size), ' '),
        url ? h('a', { href: url, download: baseName(file.path) }, 'Download') : null));
    if (!url) {
      replaceChildren(preview, head, errorBox(`This run stores artifacts at ${artifactUri ?? '(no artifact URI)'}, which this server does not proxy, so it cannot be previewed here.`));
      return;
    }
    replaceChildren(preview, head, h('p', { class: 'muted' }, 'Loading preview…'));
    try {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`the server answered HTTP ${res.status} for ${file.path}`);
      if (generation !== previewGeneration) return;
      const imageType = IMAGE_TYPES[ext];
      if (imageType) {
        const blob = new Blob([await res.arrayBuffer()], { type: imageType });
        if (generation !== previewGeneration) return;
        const objectUrl = URL.createObjectURL(blob);
        objectUrls.push(objectUrl);
        const img = h('img', { src: objectUrl, alt: file.path, 'data-testid': 'artifact-image' });
        img.addEventListener('load', () => {
          if (img.naturalWidth > 0 && img.naturalWidth < 160) {
            img.style.width = `${img.naturalWidth * Math.floor(320 / img.naturalWidth)}px`;
            img.classList.add('pixelated');
          }
        });
        img.addEventListener('error', () => replaceChildren(preview, head, errorBox(`${file.path} is not a valid ${ext.toUpperCase()} image.`)));
        replaceChildren(preview, head, img);
      } else if (TEXT_TYPES.has(ext) || ext === '') {
        const buffer = await res.arrayBuffer();
        if (generation !== previewGeneration) return;
        const truncated = buffer.byteLength > TEXT_PREVIEW_BYTES;
        const text = new TextDecoder('utf-8', { fatal: false }).decode(buffer.slice(0, TEXT_PREVIEW_BYTES));
        const note = truncated ? h('p', { class: 'muted' }, `Showing the first ${formatBytes(TEXT_PREVIEW_BYTES)}; download the file for the rest.`) : null;
        replaceChildren(preview, head, note, textPreview(text, ext, truncated));
      } else {
        replaceChildren(preview, head, h('p', { class: 'muted' }, `No preview for .${ext} files; use Download.`));
      }
    } catch (e) {
      if (generation === previewGeneration) replaceChildren(preview, head, errorBox(`Could not load ${file.path}: ${(e as Error).message}`));
    }
  };

  const renderDir = async (path: string | undefined, into: HTMLElement): Promise<void> => {
    let files: FileInfo[];
    try {
      files = (await listArtifacts(runId, path)).files;
    } catch (e) {
      replaceChildren(into, errorBox((e as Error).message));
      return;
    }
    if (files.length === 0 && path === undefined) {
      replaceChildren(container, emptyState('No artifacts logged',
        'Upload files for this run with the tracking client (e.g. ', h('code', null, 'logArtifact'), ') or any MLflow client.'));
      return;
    }
    const sorted = [...files].sort((a, b) => Number(Boolean(b.is_dir)) - Number(Boolean(a.is_dir)) || a.path.localeCompare(b.path));
    const list = h('ul', null, sorted.map((file) => {
      const item = h('li', null);
      const button = h('button', { type: 'button', class: 'entry', 'data-path': file.path, 'data-dir': file.is_dir ? 'true' : 'false' },
        h('span', { class: 'mono' }, file.is_dir ? `▸ ${baseName(file.path)}/` : baseName(file.path)),
        file.is_dir ? null : h('span', { class: 'size' }, formatBytes(file.file_size)));
      item.append(button);
      if (file.is_dir) {
        let children: HTMLElement | undefined;
        button.addEventListener('click', () => {
          if (children) {
            children.remove();
            children = undefined;
            (button.firstChild as HTMLElement).textContent = `▸ ${baseName(file.path)}/`;
            return;
          }
          children = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
          item.append(children);
          (button.firstChild as HTMLElement).textContent = `▾ ${baseName(file.path)}/`;
          void renderDir(file.path, children);
        });
      } else {
        button.addEventListener('click', () => void showFile(file, button));
      }
      return item;
    }));
    replaceChildren(into, list);
    // Open the first previewable file at the top level so the pane is not empty.
    if (path === undefined) {
      const first = sorted.find((f) => !f.is_dir && (IMAGE_TYPES[extension(f.path)] || TEXT_TYPES.has(extension(f.path))));
      const button = first && list.querySelector<HTMLElement>(`button[data-path="${CSS.escape(first.path)}"]`);
      if (first && button) void showFile(first, button);
    }
  };

  tree.append(h('p', { class: 'muted' }, 'Loading artifacts…'));
  void renderDir(undefined, tree);
  return container;
}

function textPreview(text: string, ext: string, truncated: boolean): HTMLElement {
  if ((ext === 'csv' || ext === 'tsv') && text.length > 0) {
    const rows = parseCsv(text, CSV_PREVIEW_ROWS + 1, ext === 'tsv' ? '\t' : ',');
    const [headRow, ...body] = rows;
    if (headRow && headRow.length > 1) {
      return h('div', null,
        h('div', { class: 'table-wrap' },
          h('table', { class: 'data', 'data-testid': 'artifact-csv' },
            h('thead', null, h('tr', null, headRow.map((c) => h('th', null, c)))),
            h('tbody', null, body.slice(0, CSV_PREVIEW_ROWS).map((r) => h('tr', null, r.map((c) => h('td', null, c))))))),
        body.length > CSV_PREVIEW_ROWS ? h('p', { class: 'muted' }, `First ${CSV_PREVIEW_ROWS} rows shown.`) : null);
    }
  }
  let shown = text;
  if (ext === 'json' && !truncated) {
    try {
      shown = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      shown = text;
    }
  }
  return h('pre', { 'data-testid': 'artifact-text' }, shown);
}
