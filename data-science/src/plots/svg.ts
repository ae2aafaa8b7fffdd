import sharp from 'sharp';

/** Renders an SVG document to PNG (librsvg via sharp: no browser needed). */
export async function svgToPng(svg: string): Promise<Buffer> {
  return sharp(Buffer.from(svg)).png().toBuffer();
}

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

export const FONT = 'font-family="DejaVu Sans, Arial, sans-serif"';
