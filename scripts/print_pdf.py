"""Print a single-page HTML build of the book (Sphinx singlehtml) to PDF with headless Chromium.

    python -m scripts.print_pdf _build/pdf-src/en/_build/singlehtml/book/intro.html OUT.pdf

The page is served on 127.0.0.1 (MathJax loads its fonts over HTTP), every request to another host
is refused (the PDF is made offline), MathJax finishes typesetting before printing, the Colab
set-up cells (tag `colab-setup`) and the site's navigation are left out, and a table of contents
with links is put first; the PDF gets an outline (bookmarks) from the headings. Uses Debian's
chromium (CHROMIUM to choose another) through Playwright, as the browser tests do.
"""
import functools
import http.server
import os
import re
import shutil
import sys
import threading
from pathlib import Path

CHROMIUM = os.environ.get('CHROMIUM', '/usr/bin/chromium')
# Headless, offline, no first-run work (also the browser tests' flags: tests/test_site.py)
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                 '--disable-background-networking', '--disable-component-update', '--disable-sync']

PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm; }
.bd-header, .bd-header-article, .header-article, .bd-sidebar-primary, .bd-sidebar-secondary,
.bd-footer, .bd-footer-article, .bd-footer-content, .prev-next-area, .search-button-field,
.theme-switch-button, .skip-link, #pst-back-to-top, .headerlink, .course-edition-switch,
.sidebar-toggle, .bd-search, .topbar, footer { display: none !important; }
.bd-main, .bd-content, .bd-article-container, .bd-page-width, .bd-container, .bd-container__inner {
  max-width: none !important; width: auto !important; margin: 0 !important; padding: 0 !important; }
body { font-size: 11pt; }
pre, .highlight pre { white-space: pre-wrap !important; word-break: break-word; font-size: 8.5pt; }
.cell_output img, main img { max-width: 100% !important; break-inside: avoid; }
table { break-inside: auto; font-size: 9pt; }
tr, .cell { break-inside: avoid; }
details.hide:not([open]) { display: none !important; } /* folded code: its "Show" button */
#course-pdf-toc { break-after: page; }
#course-pdf { max-width: none; margin: 0; padding: 0; }
#course-pdf-toc a { text-decoration: none; color: inherit; }
#course-pdf-toc > ol > li { margin-top: 0.6em; font-weight: 600; }
#course-pdf-toc > ol > li li { font-weight: normal; }
#course-pdf-toc ol { list-style: none; padding-left: 1.2em; }
#course-pdf-toc > ol { padding-left: 0; }
#course-pdf-toc li { margin: 0.25em 0; }
"""

# Builds the table of contents from the pages (the root page, then each document Sphinx's
# singlehtml builder inlined after a <span id="document-NAME"> marker) and their sections, starts
# each page on a new sheet, drops the Colab set-up cells; returns what it did for the caller to check.
PREPARE_JS = """() => {
  const lang = (document.documentElement.lang || 'en').toLowerCase();
  const zh = lang.startsWith('zh');
  let removed = 0;
  document.querySelectorAll('.tag_colab-setup').forEach(e => { e.remove(); removed++; });
  const main = document.querySelector('main article') || document.querySelector('main');
  const clean = h => h.textContent.replace(/[#\u00b6]/g, '').replace(/\\s+/g, ' ').trim();
  const heading = s => s && s.querySelector(':scope > h1, :scope > h2, :scope > h3');
  const pages = [];
  const root = main.querySelector('section');
  if (root) pages.push(root);
  main.querySelectorAll('span[id^="document-"]').forEach(span => {
    let s = span.nextElementSibling;
    while (s && s.tagName !== 'SECTION') s = s.nextElementSibling;
    if (s && s !== root) pages.push(s);
  });
  const toc = document.createElement('nav');
  toc.id = 'course-pdf-toc';
  const title = document.createElement('h1');
  title.textContent = zh ? '目录' : 'Contents';
  toc.appendChild(title);
  const list = document.createElement('ol');
  let n = 0;
  const entry = (section, parent) => {
    if (!section.id) section.id = 'pdf-section-' + (n++);
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = '#' + section.id;
    a.textContent = clean(heading(section));
    li.appendChild(a);
    parent.appendChild(li);
    return li;
  };
  pages.forEach((page, i) => {
    if (!heading(page)) return;
    if (i > 0) page.style.breakBefore = 'page';
    const li = entry(page, list);
    const subs = [...page.querySelectorAll(':scope > section')].filter(heading);
    if (subs.length) {
      const sub = document.createElement('ol');
      subs.forEach(s => entry(s, sub));
      li.appendChild(sub);
    }
  });
  toc.appendChild(list);
  // print the article alone (no header, navigation or sidebars), the contents first
  const page = document.createElement('div');
  page.id = 'course-pdf';
  page.appendChild(toc);
  page.appendChild(main);
  document.body.replaceChildren(page);
  return {removed, chapters: pages.length, lang};
}"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def print_pdf(html_file, pdf_file):
    html_file, pdf_file = Path(html_file).resolve(), Path(pdf_file).resolve()
    if not html_file.exists():
        raise SystemExit(f"{html_file} not found: build the single-page HTML first "
                         f"(scripts/build_book.sh does)")
    # the build's index.html only redirects to the root page: print that page
    redirect = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"',
                         html_file.read_text(encoding='utf-8', errors='replace')[:1000])
    if redirect:
        html_file = (html_file.parent / redirect.group(1)).resolve()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} not found: install Debian's chromium "
                         f"(apt-get install -y chromium; scripts/test.sh does this)")
    from playwright.sync_api import sync_playwright
    # Sphinx's singlehtml builder writes a root page in a subfolder (book/intro.html) with links
    # relative to the build's top folder (_static/, _images/): print a copy placed there.
    site = next((d for d in html_file.parents if (d / '_static').is_dir()), html_file.parent)
    if html_file.parent != site:
        top = site / f'print-{html_file.name}'
        shutil.copyfile(html_file, top)
        html_file = top
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f'http://127.0.0.1:{httpd.server_address[1]}'
    external = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()

            def only_local(route):
                if route.request.url.startswith(base) or route.request.url.startswith('data:'):
                    route.continue_()
                else:
                    external.append(route.request.url)
                    route.abort()
            page.route('**/*', only_local)
            page.goto(f'{base}/{html_file.relative_to(site).as_posix()}', wait_until='load',
                      timeout=120_000)
            page.wait_for_function(
                "() => !window.MathJax || (MathJax.startup && MathJax.startup.promise)",
                timeout=60_000)
            page.evaluate("() => window.MathJax ? MathJax.startup.promise : null")
            done = page.evaluate(PREPARE_JS)
            page.add_style_tag(content=PRINT_CSS)
            page.evaluate("() => document.fonts.ready.then(() => true)")
            page.emulate_media(media='print')
            pdf_file.parent.mkdir(parents=True, exist_ok=True)
            page.pdf(path=str(pdf_file), format='A4', print_background=True, outline=True,
                     tagged=True, display_header_footer=True,
                     header_template='<span></span>',
                     footer_template='<div style="font-size:8pt;width:100%;text-align:center">'
                                     '<span class="pageNumber"></span> / '
                                     '<span class="totalPages"></span></div>',
                     margin={'top': '16mm', 'bottom': '18mm', 'left': '14mm', 'right': '14mm'})
            browser.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
    if external:
        raise SystemExit(f"{html_file} needs the network, which a PDF build must not: "
                         f"{sorted(set(external))[:5]}")
    if done['chapters'] < 1:
        raise SystemExit(f"{html_file}: no chapter headings found, nothing to print")
    print(f"{pdf_file}: {done['chapters']} pages of the book, table of contents, {done['removed']} Colab "
          f"set-up cells left out, language {done['lang']}")
    return done


if __name__ == '__main__':
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    print_pdf(sys.argv[1], sys.argv[2])
