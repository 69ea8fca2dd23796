"""The PDFs (_build/pdf/, one per language), read back the way a reader would meet them.

They come from the same smoke build as tests/test_site.py (shared, built once per session). Each
PDF is checked with poppler's tools: the text layer (pdftotext) has the table of contents, every
chapter, no raw TeX and no Colab set-up cell; every font is embedded (pdffonts); every CJK
character the translation uses is in the text layer and has a glyph in the installed CJK fonts
(no tofu boxes: checked against the fonts' character maps with fontTools); and the pages of the chapters that train a network
contain images (pdfimages) that, rendered with pdftoppm, are real pictures, not blank.
"""
import re
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

from conftest import ROOT
import test_site

from scripts import translations as tr

PDF_DIR = ROOT / '_build' / 'pdf'
LANGS = ('en', 'zh')
CJK = re.compile(r'[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]')


@pytest.fixture(scope='session')
def pdfs():
    test_site.build_site_once()
    found = {lang: PDF_DIR / f'lenet-to-alexnet-{lang}.pdf' for lang in LANGS}
    missing = [str(p) for p in found.values() if not p.exists()]
    assert not missing, f"the build wrote no {missing}"
    return found


def run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120).stdout


@lru_cache(maxsize=None)
def pages(pdf):
    """The text of each page (pdftotext separates pages with form feeds)."""
    # -raw: in drawing order, which is reading order here (the default layout mode splits a
    # heading that mixes Chinese and Latin text into separate runs)
    return run('pdftotext', '-raw', '-enc', 'UTF-8', str(pdf), '-').split('\f')[:-1]


def title_of(page):
    """The first heading of a TOC page's English source."""
    source = tr.source_of(page)
    text = source.read_text()
    if source.suffix == '.ipynb':
        import json
        text = '\n'.join(''.join(c['source']) for c in json.loads(text)['cells']
                         if c['cell_type'] == 'markdown')
    return re.search(r'^#\s+(.+)$', text, re.M).group(1).strip()


def titles(lang):
    """{page: its title in `lang`} for every page of the TOC."""
    found = {}
    for page in tr.toc_pages():
        title = title_of(page)
        found[page] = title if lang == 'en' else tr.lookup_for(page)(tr.normalize(title))
    return found


def squeeze(text):
    """Text compared without white space, with Sphinx's typographic quotes made plain."""
    text = text.replace('\u2019', "'").replace('\u2018', "'").replace('\u201c', '"').replace('\u201d', '"')
    return re.sub(r'\s+', '', text)


@pytest.mark.parametrize('lang', LANGS)
def test_contents_then_every_page_of_the_book(pdfs, lang):
    text = pages(pdfs[lang])
    assert len(text) >= 20, f"{lang} PDF has only {len(text)} pages"
    contents = squeeze(''.join(text[:4]))
    assert ('目录' if lang == 'zh' else 'Contents') in contents
    body = squeeze(''.join(text[1:]))
    for page, title in titles(lang).items():
        assert squeeze(title) in contents, f"{lang}: {title!r} ({page}) missing from the contents"
        assert squeeze(title) in body, f"{lang}: the PDF has no page titled {title!r} ({page})"


@pytest.mark.parametrize('lang', LANGS)
def test_no_raw_tex_and_no_colab_set_up(pdfs, lang):
    for n, page in enumerate(pages(pdfs[lang]), 1):
        # delimiters MathJax left, or a TeX command in prose (code shows "$\\ln", escaped)
        raw = re.findall(r'\$\$|\\\(|\\\[|(?<!\\)\\(?:frac|times|text|operatorname|ln|sqrt)\b',
                         page)
        assert raw == [], f"{lang} PDF page {n} shows raw TeX: {raw}"
        assert 'google.colab' not in page, f"{lang} PDF page {n} prints the Colab set-up cell"


def fonts(pdf):
    """[(name without subset prefix, embedded)] from pdffonts."""
    lines = run('pdffonts', str(pdf)).splitlines()[2:]
    found = []
    for line in lines:
        fields = line.split()
        # name type... emb sub uni object ID: emb is the 5th field from the end
        found.append((fields[0].split('+', 1)[-1], fields[-5] == 'yes'))
    return found


@lru_cache(maxsize=None)
def installed_characters():
    """Code points some installed font (fontconfig's list, fonts-noto-cjk included) can draw."""
    from fontTools.ttLib import TTCollection, TTFont
    out = run('fc-list', ':', 'file')
    covered = set()
    for path in {line.partition(':')[0].strip() for line in out.splitlines()}:
        if not path.endswith(('.ttf', '.otf', '.ttc')):
            continue
        for font in (TTCollection(path).fonts if path.endswith('.ttc') else [TTFont(path)]):
            covered |= set(font.getBestCmap() or {})
    return covered


# Where a missing glyph would show: CJK, private use, and the planes beyond the BMP (not math).
SUSPECT = re.compile('[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef'
                     '\ue000-\uf8ff\U00010000-\U0001d3ff\U0001d800-\U0010ffff]')


def uncovered(text):
    """Characters of `text` (CJK, private use, beyond the BMP) that no installed font can draw:
    Chromium draws a box (tofu) for each."""
    return sorted(c for c in set(SUSPECT.findall(text)) if ord(c) not in installed_characters())


def tofu_characters(pdf):
    """Characters of the PDF's text layer that no installed font has a glyph for."""
    return uncovered(''.join(pages(pdf)))


def printed_html_text(lang):
    """The text of the single-page HTML the PDF was printed from."""
    from html import unescape
    folder = ROOT / '_build' / 'pdf-src' / lang / '_build' / 'singlehtml'
    page = next(folder.glob('print-*.html'))
    return unescape(re.sub(r'<[^>]+>', ' ', page.read_text(encoding='utf-8')))


def test_the_tofu_check_sees_a_missing_glyph(tmp_path):
    """A page with characters no font has, printed by scripts/print_pdf.py, is caught."""
    page_file = tmp_path / 'tofu.html'
    page_file.write_text('<html lang="zh-CN"><body><main><section><h1>卷积层</h1>'
                         '<p>卷积层 &#x31350; 池化层 &#x10FFFD;</p></section></main></body></html>',
                         encoding='utf-8')
    # in its own process: the browser tests hold a Playwright session in this one
    subprocess.run([sys.executable, '-m', 'scripts.print_pdf', str(page_file),
                    str(tmp_path / 'tofu.pdf')], check=True, timeout=120, capture_output=True, cwd=ROOT)
    # Chromium keeps some of them in the text layer (not all: hence the check of the HTML too)
    assert '\U0010fffd' in tofu_characters(tmp_path / 'tofu.pdf')
    assert uncovered('卷积层 \U00031350 池化层') == ['\U00031350']


def translated_characters():
    """The CJK characters the Chinese pages' translations use."""
    chars = set()
    for page in tr.toc_pages():
        for entry in tr.read_catalog(tr.catalog_path(page)):
            if entry.id and 'python-brace-format' not in entry.flags:
                chars |= set(CJK.findall(entry.string))
    return chars


@pytest.mark.parametrize('lang', LANGS)
def test_fonts_embedded_and_no_tofu(pdfs, lang):
    """Chromium embeds CJK fonts as Type 3 fonts without names; a character without a glyph
    stays in the text layer, so tofu is found by checking the text against the installed fonts."""
    found = fonts(pdfs[lang])
    assert found, f"{lang} PDF lists no fonts"
    assert [n for n, embedded in found if not embedded] == [], f"fonts not embedded in {lang}: {found}"
    text = ''.join(pages(pdfs[lang]))
    assert '\ufffd' not in text, f"{lang} PDF has replacement characters"
    tofu = tofu_characters(pdfs[lang]) + uncovered(printed_html_text(lang))
    assert tofu == [], f"characters no installed font can draw (tofu): {[hex(ord(c)) for c in tofu[:40]]}"
    if lang == 'en':
        return
    shown = set(CJK.findall(text))
    assert len(CJK.findall(text)) > 2000, "the Chinese PDF has little Chinese text"
    lost = sorted(translated_characters() - shown)
    assert lost == [], f"characters of the translation missing from the PDF's text: {''.join(lost[:40])}"


def image_pages(pdf):
    """Page numbers (from 1) holding at least one image."""
    lines = run('pdfimages', '-list', str(pdf)).splitlines()[2:]
    return sorted({int(line.split()[0]) for line in lines if line.strip()})


@pytest.mark.parametrize('lang', LANGS)
def test_training_pages_show_their_history_figure_labelled_in_the_language(pdfs, lang, tmp_path):
    pdf = pdfs[lang]
    text = pages(pdf)
    with_images = image_pages(pdf)
    names = titles(lang)
    order = [p for p in tr.toc_pages()]
    # where each page of the book starts in the PDF: a page that opens with its title (each
    # starts on a new page; the table of contents comes first, so look after the first title)
    starts = {}
    for page in order:
        want = squeeze(names[page])
        hits = [n for n, t in enumerate(text, 1)
                if want in squeeze('\n'.join(t.strip().splitlines()[:3]))
                and n > max(starts.values(), default=1)]
        assert hits, f"{lang}: no page of the PDF opens with {names[page]!r}"
        starts[page] = hits[0]
    # the training history's legend, as text: figures are SVG whose labels stay text
    legend = {'en': 'train loss', 'zh': '训练损失'}[lang]
    for chapter in test_site.TRAINING_CHAPTERS:
        first = starts[chapter]
        later = [starts[p] for p in order if starts[p] > first]
        last = min(later) if later else len(text)
        labelled = [n for n in range(first, last + 1)
                    if any(line.strip().endswith(legend) and len(line.strip()) < 40
                           for line in text[n - 1].splitlines())]
        assert labelled, f"{lang}: {chapter} (pages {first}-{last}) trains a network but the PDF " \
                         f"shows no training-history figure labelled {legend!r} there"
        inside = labelled + [n for n in with_images if first <= n <= last]
        # the figure is a picture: rendered, the page has many colours and is far from blank
        from PIL import Image
        n = inside[0]
        prefix = tmp_path / f'{lang}-{n}'
        run('pdftoppm', '-png', '-r', '40', '-f', str(n), '-l', str(n), str(pdf), str(prefix))
        png = next(tmp_path.glob(f'{lang}-{n}*.png'))
        image = Image.open(png).convert('RGB')
        colours = image.getcolors(maxcolors=1 << 20)
        ink = sum(count for count, rgb in colours if sum(rgb) < 720) / (image.width * image.height)
        assert len(colours) > 64 and ink > 0.05, \
            f"{lang} PDF page {n} ({chapter}) looks blank: {len(colours)} colours, {ink:.0%} ink"
