import type { Icon, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';

// Icons are inline SVG data URIs: no network fetch, nothing an instance controls. `currentColor` lets a client theme them.
function svg(body: string): Icon {
  const doc = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2">${body}</svg>`;
  return { src: `data:image/svg+xml;base64,${Buffer.from(doc).toString('base64')}`, mimeType: 'image/svg+xml', sizes: ['any'] };
}

/** A GPU board: the server itself. */
export const SERVER_ICON: Icon = svg(
  '<rect x="2" y="6" width="20" height="12" rx="2"/><rect x="6" y="9" width="6" height="6"/><path d="M15 10h4M15 14h4M5 18v3M9 18v3M13 18v3"/>',
);
const READ_ICON = svg('<circle cx="11" cy="11" r="7"/><path d="m21 21-5-5"/>');
const WRITE_ICON = svg('<path d="M13 2 4 14h7l-1 8 9-12h-7z"/>');
const DESTRUCTIVE_ICON = svg('<path d="M12 3 2 21h20z"/><path d="M12 10v5M12 18v.5"/>');

/** One icon per access level, read from the annotations that are themselves derived from it. */
export function iconsFor(annotations: ToolAnnotations | undefined): Icon[] {
  if (annotations?.destructiveHint) return [DESTRUCTIVE_ICON];
  if (annotations?.readOnlyHint) return [READ_ICON];
  return [WRITE_ICON];
}
