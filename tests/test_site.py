"""The built site, checked in a real browser (headless Debian Chromium driven by Playwright).

A session fixture builds the whole book with `scripts/build_book.sh` under COURSE_PROFILE=smoke
(executing every notebook afresh; any warning or execution error fails it; both editions and the
PDFs), serves _build/html on 127.0.0.1, and every page of the TOC is opened and checked, in English
and in Chinese (_build/html/zh/). Screenshots of the introduction and the AlexNet training page
are saved in _build/screenshots/ for a person to look at.

Local iteration only: SITE_TEST_REUSE_BUILD=1 checks the existing _build/html (built under smoke)
instead of building again.
"""
import functools
import http.server
import os
import re
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, SHARED_DATA

from scripts.print_pdf import CHROMIUM, CHROMIUM_ARGS  # the browser the PDFs are printed in
from scripts.zh_edition.pages import source_of, toc_pages  # the book's one TOC reader

HTML = ROOT / '_build' / 'html'
SCREENSHOTS = ROOT / '_build' / 'screenshots'
BUILD_TIMEOUT_S = 900
CONFIG = yaml.safe_load((ROOT / '_config.yml').read_text())


PAGES = toc_pages()
# The Chinese edition: page folder/name is folder/zh/name in the site's zh/ folder, plus a glossary.
def chinese(page):
    folder, _, name = page.rpartition('/')
    return f'zh/{folder}/zh/{name}'


def english(page):
    """The English page of a Chinese one (None for the Chinese-only glossary)."""
    folder, _, name = page.removeprefix('zh/').rpartition('/')
    found = f"{folder.removesuffix('/zh')}/{name}"
    return found if found in PAGES else None


ZH_GLOSSARY = 'zh/book/zh/glossary'
ZH_PAGES = [chinese(p) for p in PAGES] + [ZH_GLOSSARY]
CHAPTERS = [p for p in PAGES if re.fullmatch(r'notebooks/\d\d_\w+', p)]
# A chapter that trains a network (calls utils.train) must show at least one plot.
TRAINING_CHAPTERS = [p for p in CHAPTERS if 'utils.train(' in source_of(p).read_text()]


def page_for(name):
    """The chapter notebooks/NN_<name> (e.g. 'training_alexnet')."""
    found = [p for p in CHAPTERS if re.fullmatch(rf'notebooks/\d\d_{name}', p)]
    assert len(found) == 1, f"expected one chapter named *{name}* in _toc.yml, found {found}"
    return found[0]


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture(scope='session')
def built_site():
    return build_site_once()


@functools.lru_cache(maxsize=None)
def build_site_once():
    """Build the book once per test session (tests/test_pdf.py shares this build)."""
    if os.environ.get('SITE_TEST_REUSE_BUILD') and (HTML / 'index.html').exists():
        stamp = (ROOT / '_build' / '.jupyter_cache.stamp').read_text()
        assert 'profile=smoke' in stamp, f"the existing build is not a smoke build: {stamp}"
        return HTML
    env = dict(os.environ, COURSE_PROFILE='smoke', BOOK_FRESH='1',
               FASHION_MNIST_DIR=str(SHARED_DATA))
    start = time.time()
    proc = subprocess.run(['bash', str(ROOT / 'scripts' / 'build_book.sh')], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    took = time.time() - start
    output = proc.stdout + proc.stderr
    warnings = [line for line in output.splitlines() if 'WARNING' in line or 'ERROR' in line]
    if proc.returncode != 0:
        reports = sorted(str(p.relative_to(ROOT)) for p in (ROOT / '_build' / 'reports').rglob('*')
                         if p.is_file()) if (ROOT / '_build' / 'reports').exists() else []
        pytest.fail(f"book build failed after {took:.0f} s (exit {proc.returncode}).\n"
                    f"Warnings/errors:\n  " + '\n  '.join(warnings[:40]) +
                    f"\nExecution reports: {reports or 'none'}\nLast output:\n{output[-3000:]}")
    assert not warnings, f"the build printed warnings: {warnings}"
    print(f"\nsmoke build of the book took {took:.0f} s")
    return HTML


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope='session')
def server(built_site):
    handler = functools.partial(_QuietHandler, directory=str(built_site))
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}'
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope='session')
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium); "
                    f"scripts/test.sh does this.")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Visit:
    """One page opened in a fresh tab, with everything that went wrong while loading it."""

    def __init__(self, browser, server, path):
        self.server = server
        self.page = browser.new_page(viewport={'width': 1280, 'height': 900})
        self.errors, self.external, self.failed = [], [], []
        self.page.on('console', lambda m: m.type == 'error' and self.errors.append(m.text))
        self.page.on('pageerror', lambda e: self.errors.append(f'uncaught: {e}'))
        self.page.on('requestfailed', lambda r: self.failed.append(f'{r.url} ({r.failure})'))
        self.page.on('response', lambda r: r.status >= 400 and self.failed.append(
            f'{r.url} (HTTP {r.status})'))
        self.page.route('**/*', self._only_local)
        self.page.goto(f'{server}/{path}', wait_until='load')
        # MathJax typesets after load; wait for it when the page uses it.
        self.page.wait_for_function(
            "() => !window.MathJax || (MathJax.startup && MathJax.startup.promise)", timeout=15000)
        self.page.evaluate("() => window.MathJax ? MathJax.startup.promise : null")

    def _only_local(self, route):
        if route.request.url.startswith(self.server) or route.request.url.startswith('data:'):
            route.continue_()
        else:
            self.external.append(route.request.url)
            route.abort()

    def close(self):
        self.page.close()


@pytest.fixture
def visit(browser, server):
    opened = []

    def open_page(path):
        v = Visit(browser, server, path)
        opened.append(v)
        return v
    yield open_page
    for v in opened:
        v.close()


@functools.lru_cache(maxsize=None)
def _ids_in(url):
    import urllib.request
    with urllib.request.urlopen(url, timeout=10) as response:
        html = response.read().decode('utf-8', 'replace')
    return set(re.findall(r'\bid="([^"]+)"', html))


# ----------------------------------------------------------------------------- checks

def test_toc_lists_the_pages_the_course_needs():
    assert PAGES[0] == 'book/intro'
    assert 'book/how_to_use' in PAGES and 'book/colab' in PAGES
    assert len(CHAPTERS) >= 6, CHAPTERS
    assert page_for('training_alexnet') in TRAINING_CHAPTERS
    exercises = sorted(p.stem for p in (ROOT / 'notebooks').glob('exercise_*.ipynb'))
    listed = [p.rsplit('/', 1)[-1] for p in PAGES]
    assert [e for e in exercises if e not in listed] == [], "exercise notebooks missing from _toc.yml"


@pytest.mark.parametrize('source', PAGES + ZH_PAGES)
def test_page(source, visit, server):
    v = visit(source + '.html')
    page = v.page
    assert v.errors == [], f"console errors on {source}: {v.errors}"
    assert v.failed == [], f"failed requests on {source}: {v.failed}"
    assert v.external == [], f"{source} needs the network: {v.external}"
    assert page.locator('main h1').count() >= 1, f"{source} has no title"

    # every image is loaded
    broken = page.evaluate("""() => [...document.images]
        .filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)""")
    assert broken == [], f"broken images on {source}: {broken}"

    # every internal link leads to an existing page (and anchor)
    links = page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")
    for link in sorted(set(links)):
        if not link.startswith(server):
            continue
        url, _, fragment = link.partition('#')
        response = page.request.get(url)
        assert response.ok, f"{source} links to {link}: HTTP {response.status}"
        if fragment and url.endswith('.html'):
            assert urllib.parse.unquote(fragment) in _ids_in(url), \
                f"{source} links to {link}, but that page has no id {fragment!r}"

    # math: everything Sphinx marked as math was typeset by MathJax, nothing raw is left
    math = page.locator('main .math')
    if math.count():
        untypeset = page.evaluate("""() => [...document.querySelectorAll('main .math')]
            .filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 60))""")
        assert untypeset == [], f"math not typeset on {source}: {untypeset}"
    text = page.evaluate("""() => { const m = document.querySelector('main').cloneNode(true);
        m.querySelectorAll('pre, code').forEach(e => e.remove()); return m.textContent; }""")
    raw = re.findall(r'\\\(|\\\[|\$\$|\$\\[a-zA-Z]+', text)
    assert raw == [], f"raw TeX left on {source}: {raw}"

    # every page links to its counterpart in the other language
    counterpart = english(source) if source.startswith('zh/') else chinese(source)
    if counterpart:
        switch = page.locator('main .course-edition-switch a')
        assert switch.count() == 1, f"{source} has no link to its other-language edition"
        assert switch.evaluate('a => a.href') == f'{server}/{counterpart}.html'
        assert page.request.get(f'{server}/{counterpart}.html').ok

    if source.startswith('zh/'):
        _check_chinese(source, page)
    if (english(source) if source.startswith('zh/') else source) in CHAPTERS:
        _check_chapter(source, page)


def _check_chinese(source, page):
    """Chinese text, in a CJK font from the system (fonts-noto-cjk), not English left over."""
    assert page.evaluate("() => document.documentElement.lang").lower().startswith('zh')
    text = page.locator('main').inner_text()
    prose = re.sub(r'```.*?```', '', text, flags=re.S)
    assert len(re.findall(r'[\u4e00-\u9fff]', prose)) >= 20, f"{source} shows little Chinese"
    cdp = page.context.new_cdp_session(page)
    cdp.send('DOM.enable')
    cdp.send('CSS.enable')
    root = cdp.send('DOM.getDocument', {'depth': -1})['root']['nodeId']
    nodes = cdp.send('DOM.querySelectorAll', {'nodeId': root, 'selector': 'main h1, main h2, main p'})
    glyphs = {}  # font family -> glyphs it drew in the headings and paragraphs
    for node in nodes['nodeIds']:
        for font in cdp.send('CSS.getPlatformFontsForNode', {'nodeId': node})['fonts']:
            glyphs[font['familyName']] = glyphs.get(font['familyName'], 0) + font['glyphCount']
    cdp.detach()
    cjk = sum(n for family, n in glyphs.items() if 'CJK' in family)
    assert cjk >= 20, f"{source}: the Chinese text is not drawn with a CJK font: {glyphs}"


def _check_chapter(source, page):
    outputs = page.locator('main .cell_output')
    assert outputs.count() >= 1, f"{source} shows no executed output"
    assert page.locator('main .cell_output .output.error, main .cell_output .traceback').count() == 0
    if (english(source) if source.startswith('zh/') else source) in TRAINING_CHAPTERS:
        plots = page.locator('main .cell_output img')
        assert plots.count() >= 1, f"{source} trains a network but shows no plot"
    # launch buttons built from the one repository URL in _config.yml (the Chinese pages open the
    # Chinese notebooks, notebooks/zh/)
    notebook = source.removeprefix('zh/')
    repo = CONFIG['repository']['url'].removeprefix('https://github.com/')
    colab = (f"{CONFIG['launch_buttons']['colab_url']}/github/{repo}/blob/"
             f"{CONFIG['repository']['branch']}/{notebook}.ipynb")
    hrefs = page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")
    assert colab in hrefs, f"{source} has no Colab button to {colab}"
    assert any(h.endswith(f'/_sources/{notebook}.ipynb') for h in hrefs), \
        f"{source} has no download button for its notebook"


def test_alexnet_page_shows_its_layer_table(visit):
    page = visit(page_for('alexnet') + '.html').page
    tables = page.locator('main .cell_output table')
    texts = [tables.nth(i).inner_text() for i in range(tables.count())]
    layer_tables = [t for t in texts if 'Conv2D 96, 11x11/4' in t and 'output_shape' in t]
    assert layer_tables, "the AlexNet chapter shows no layer table computed by utils.layer_table"
    assert 'Dense 4096' in layer_tables[0] and 'flops' in layer_tables[0]


def test_math_is_typeset_on_the_introduction(visit):
    page = visit('book/intro.html').page
    assert page.locator('main mjx-container').count() >= 2


def test_search_finds_alexnet(visit):
    page = visit('search.html?q=AlexNet').page
    results = page.locator('#search-results li, ul.search li')
    results.first.wait_for(timeout=20000)
    found = [results.nth(i).inner_text() for i in range(results.count())]
    assert len(found) >= 3, found
    hrefs = page.evaluate("""() => [...document.querySelectorAll('#search-results li a, ul.search li a')]
        .map(a => a.getAttribute('href'))""")
    assert any(page_for('training_alexnet') in h for h in hrefs), hrefs


def test_search_in_chinese_finds_the_chapters(visit):
    """Sphinx's Chinese search (words split by jieba) works offline for a Chinese query."""
    page = visit('zh/search.html?q=卷积').page
    results = page.locator('#search-results li, ul.search li')
    results.first.wait_for(timeout=20000)
    hrefs = page.evaluate("""() => [...document.querySelectorAll('#search-results li a, ul.search li a')]
        .map(a => a.getAttribute('href'))""")
    chapters = {h.split('.html')[0].split('/')[-1] for h in hrefs if '/zh/' in f'/{h}'}
    assert len(chapters) >= 3, hrefs
    assert any(page_for('lenet').removeprefix('notebooks/') in c for c in chapters), hrefs
    assert any(page_for('alexnet').removeprefix('notebooks/') in c for c in chapters), hrefs


def test_chinese_glossary_lists_the_terms(visit):
    page = visit(ZH_GLOSSARY + '.html').page
    rows = page.locator('main table tr')
    texts = [rows.nth(i).inner_text() for i in range(rows.count())]
    assert any('卷积层' in t and 'convolutional layer' in t for t in texts), texts
    assert any('丢弃法' in t and 'dropout' in t for t in texts), texts


def test_screenshots_for_people(visit):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, path in (('intro', 'book/intro.html'),
                       ('training_alexnet', page_for('training_alexnet') + '.html'),
                       ('zh_intro', chinese('book/intro') + '.html'),
                       ('zh_training_alexnet', chinese(page_for('training_alexnet')) + '.html')):
        target = SCREENSHOTS / f'{name}.png'
        if target.exists():
            target.unlink()
        page = visit(path).page
        page.evaluate("() => document.fonts.ready")
        # Chromium's new headless mode draws full_page captures of this theme shifted sideways;
        # a viewport as tall as the page gives the page as a reader sees it.
        height = page.evaluate("() => document.documentElement.scrollHeight")
        page.set_viewport_size({'width': 1280, 'height': min(height, 16000)})
        page.wait_for_timeout(300)
        page.screenshot(path=str(target), animations='disabled')
        assert target.stat().st_size > 20_000, f"{target} looks empty"


# ----------------------------------------------------------------------------- one execution, two editions

_NUMBER = re.compile(r'(?<![\w.])-?\d(?:[\d,]*\d)?(?:\.\d+)?(?:e[+-]?\d+)?%?')


def _in_millions(text):
    """Chinese counts in 万 and 亿 (utils.i18n.large_number: 4,676 万) as the English page writes
    them in millions and billions (46.8 million), so that the same count compares equal."""
    for number, unit in re.findall(r'(\d[\d,]*(?:\.\d+)?)\s*(万|亿)', text):
        value = float(number.replace(',', '')) * (1e4 if unit == '万' else 1e8)
        yield f'{value / 1e6:.1f}'
        yield f'{value / 1e9:.1f}'


def _outputs(html_file):
    """The text of a built page's cell outputs (printed lines, tables, computed sentences) and the
    SVG files of its figures."""
    from bs4 import BeautifulSoup
    soup = BeautifulSoup(html_file.read_text(encoding='utf-8'), 'html.parser')
    outputs = soup.select('main .cell_output')
    figures = [html_file.parent / img['src'] for out in outputs for img in out.select('img')
               if img.get('src', '').endswith('.svg')]
    return [out.get_text(' ') for out in outputs], figures


@pytest.mark.parametrize('source', CHAPTERS)
def test_both_editions_show_the_same_numbers(source, built_site):
    """Each experiment ran once for both editions (utils.shared_results): every number in the
    English page's outputs (trainings, timings, tables, sentences) is in the Chinese page's."""
    english_text, _ = _outputs(built_site / f'{source}.html')
    chinese_text, _ = _outputs(built_site / f'{chinese(source)}.html')
    english_numbers = sorted(n for text in english_text for n in _NUMBER.findall(text))
    chinese_numbers = sorted(n for text in chinese_text for n in _NUMBER.findall(text))
    chinese_numbers += [n for text in chinese_text for n in _in_millions(text)]
    missing = [n for n in english_numbers if n not in chinese_numbers]
    assert len(english_numbers) >= 5, f"{source}: too few numbers to compare: {english_numbers}"
    assert not missing, f"{source}: numbers of the English page missing in Chinese: {missing[:20]}"


@pytest.mark.parametrize('source', TRAINING_CHAPTERS)
def test_figures_on_chinese_pages_are_labelled_in_chinese(source, built_site):
    """The figures are SVG whose text is text: the training history's axes say 迭代周期 / 损失."""
    _, english_figures = _outputs(built_site / f'{source}.html')
    _, figures = _outputs(built_site / f'{chinese(source)}.html')
    assert figures and len(figures) == len(english_figures), f"{source}: {figures}"
    texts = [svg.read_text(encoding='utf-8') for svg in figures]
    assert any('迭代周期' in t and '损失' in t for t in texts), \
        f"{chinese(source)}: no training-history figure labelled in Chinese"
    english_texts = [svg.read_text(encoding='utf-8') for svg in english_figures]
    assert any('epoch' in t for t in english_texts)
    assert 'CJK' in ''.join(texts) and 'CJK' not in ''.join(english_texts)  # the font, in the SVG
