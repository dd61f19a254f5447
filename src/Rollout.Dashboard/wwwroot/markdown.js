// A small Markdown renderer for the release brief: headings, paragraphs, lists, tables, fenced code, `code`
// and **bold**. It builds DOM nodes with text only, so nothing in a plan can inject markup.
function inline(text) {
  const nodes = [];
  for (const part of text.split(/(`[^`]+`|\*\*[^*]+\*\*)/)) {
    if (!part) {
      continue;
    }
    if (part.startsWith('`') && part.endsWith('`') && part.length > 1) {
      const code = document.createElement('code');
      code.textContent = part.slice(1, -1);
      nodes.push(code);
    } else if (part.startsWith('**') && part.endsWith('**') && part.length > 3) {
      const strong = document.createElement('strong');
      strong.append(...inline(part.slice(2, -2)));
      nodes.push(strong);
    } else {
      nodes.push(document.createTextNode(part));
    }
  }
  return nodes;
}

function cells(line) {
  return line.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((c) => c.trim());
}

/** Renders Markdown into a DocumentFragment. Headings are shifted down by `headingOffset` levels. */
export function renderMarkdown(markdown, headingOffset = 1) {
  const fragment = document.createDocumentFragment();
  const lines = markdown.replace(/\r\n/g, '\n').split('\n');
  let paragraph = [];
  let list = null;

  const flush = () => {
    if (paragraph.length > 0) {
      const p = document.createElement('p');
      p.append(...inline(paragraph.join(' ')));
      fragment.append(p);
      paragraph = [];
    }
    list = null;
  };

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith('```')) {
      flush();
      const code = [];
      for (i++; i < lines.length && !lines[i].startsWith('```'); i++) {
        code.push(lines[i]);
      }
      const pre = document.createElement('pre');
      const c = document.createElement('code');
      c.textContent = code.join('\n');
      pre.append(c);
      fragment.append(pre);
    } else if (/^#{1,6}\s/.test(line)) {
      flush();
      const level = Math.min(6, line.indexOf(' ') + headingOffset);
      const h = document.createElement(`h${level}`);
      h.append(...inline(line.replace(/^#+\s+/, '')));
      fragment.append(h);
    } else if (line.trim().startsWith('|')) {
      flush();
      const rows = [];
      for (; i < lines.length && lines[i].trim().startsWith('|'); i++) {
        rows.push(lines[i]);
      }
      i--;
      const table = document.createElement('table');
      const head = table.createTHead().insertRow();
      for (const text of cells(rows[0])) {
        const th = document.createElement('th');
        th.scope = 'col';
        th.append(...inline(text));
        head.append(th);
      }
      const body = table.createTBody();
      for (const row of rows.slice(1).filter((r) => !/^\s*\|[\s|:-]+\|\s*$/.test(r))) {
        const tr = body.insertRow();
        for (const text of cells(row)) {
          tr.insertCell().append(...inline(text));
        }
      }
      const wrap = document.createElement('div');
      wrap.className = 'table-scroll';
      wrap.append(table);
      fragment.append(wrap);
    } else if (/^\s*[-*]\s/.test(line)) {
      if (paragraph.length > 0) {
        flush();
      }
      if (!list) {
        list = document.createElement('ul');
        fragment.append(list);
      }
      const li = document.createElement('li');
      li.append(...inline(line.replace(/^\s*[-*]\s+/, '')));
      list.append(li);
    } else if (line.trim() === '') {
      flush();
    } else {
      list = null;
      paragraph.push(line.trim());
    }
  }
  flush();
  return fragment;
}
