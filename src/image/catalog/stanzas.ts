/** RFC 822-style stanzas (dpkg status, apk installed): blank-line separated, continuation lines start with a space. */
export function parseStanzas(text: string, separator = ':'): Array<Map<string, string>> {
  const stanzas: Array<Map<string, string>> = [];
  let current = new Map<string, string>();
  let lastKey: string | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (current.size) stanzas.push(current);
      current = new Map();
      lastKey = undefined;
      continue;
    }
    if ((line.startsWith(' ') || line.startsWith('\t')) && lastKey) {
      current.set(lastKey, `${current.get(lastKey)}\n${line.trim()}`);
      continue;
    }
    const i = line.indexOf(separator);
    if (i <= 0) continue;
    lastKey = line.slice(0, i);
    // apk allows repeated keys (F:, R:): join them so none is lost.
    const value = line.slice(i + 1).trim();
    current.set(lastKey, current.has(lastKey) ? `${current.get(lastKey)}\n${value}` : value);
  }
  if (current.size) stanzas.push(current);
  return stanzas;
}

/** Owned-file paths worth remembering: the ones a language cataloger could also report. */
export const LANGUAGE_MANIFEST = /(?:\/node_modules\/.+\/package\.json|\.dist-info\/METADATA|\.egg-info(?:\/PKG-INFO)?|\.gemspec|\/composer\/installed\.json|\.deps\.json|\.[jwe]ar|(?:^|\/)s?bin\/[^/]+|\/libexec\/.+)$/;
