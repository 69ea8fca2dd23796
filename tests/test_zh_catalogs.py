"""The Chinese edition's sources: catalogs complete and current, generated files up to date, code
identical to the English notebooks, and the stale-translation check itself (on a small made-up
page, so that it is seen to fail when the English changes)."""
import json
import re
import shutil
import subprocess
import sys
import textwrap
import warnings

import pytest

from conftest import ROOT

from scripts import colab_cell, translations as tr


def run_tool(*args):
    return subprocess.run([sys.executable, '-m', 'scripts.translations', *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


# ----------------------------------------------------------------------------- the real catalogs

def test_every_catalog_is_complete_and_current():
    """Both languages agree: no English message lacks a current translation, none is stale."""
    report = tr.check(tr.all_catalog_names())
    lines = [f'{page}: {p}' for page, problems in report.items() for p in problems[:8]]
    assert report == {}, ('translations missing or stale (python -m scripts.translations check '
                          'PAGE lists them):\n  ' + '\n  '.join(lines[:60]))


def test_generated_chinese_sources_are_up_to_date():
    proc = run_tool('generate', '--check')
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_one_catalog_per_page_in_the_sphinx_intl_layout():
    for page in tr.toc_pages():
        assert (ROOT / 'locale' / 'zh_CN' / 'LC_MESSAGES' / f'{page}.po').exists(), page


@pytest.mark.parametrize('page', [p for p in tr.toc_pages() if p.startswith('notebooks/')])
def test_chinese_notebook_has_the_english_code(page):
    english = json.loads((ROOT / f'{page}.ipynb').read_text())
    chinese = json.loads((ROOT / f'{tr.chinese_path(page)}.ipynb').read_text())
    assert [c['cell_type'] for c in chinese['cells']] == [c['cell_type'] for c in english['cells']]
    changed = []
    for en, zh in zip(english['cells'], chinese['cells']):
        if en['cell_type'] != 'code':
            continue
        assert zh.get('outputs') == [], f'{page}: the Chinese notebook is committed with outputs'
        assert zh['metadata'] == en['metadata']
        en_lines, zh_lines = ''.join(en['source']).split('\n'), ''.join(zh['source']).split('\n')
        assert len(en_lines) == len(zh_lines)
        # the comment ending a require_written(...) line is translated; the code before it is not
        commented = {row - 1: column for (row, column), _ in tr.translated_comments(''.join(en['source']))}
        for n, (a, b) in enumerate(zip(en_lines, zh_lines)):
            if n in commented:
                column = commented[n]
                assert b[:column] == a[:column] and re.search(r'[\u4e00-\u9fff]', b[column:]), (a, b)
            elif a != b:
                changed.append((a, b))
    assert changed == [(tr.ENGLISH_PATH_LINE, tr.CHINESE_PATH_LINE),
                       (colab_cell.IMPORT_LINE, colab_cell.BARE_IMPORT_LINE)], changed
    assert chinese['metadata'].get('otter') == english['metadata'].get('otter')
    # the Markdown is Chinese, not English left over
    text = ''.join(''.join(c['source']) for c in chinese['cells'] if c['cell_type'] == 'markdown')
    assert len(re.findall(r'[\u4e00-\u9fff]', text)) > 0.3 * len(re.findall(r'[A-Za-z]', text)), \
        f'{page}: the Chinese notebook reads mostly English'
    assert '〔待译〕' not in text


@pytest.mark.parametrize('page', [p for p in tr.toc_pages() if p.startswith('notebooks/')])
def test_a_chinese_notebook_says_the_missing_utils_hint_once_and_in_chinese(page):
    """The path line fails first on Colab and carries the hint in Chinese; the English hint of the
    `import utils` line must not follow it."""
    chinese = json.loads((ROOT / f'{tr.chinese_path(page)}.ipynb').read_text())
    lines = [line for c in chinese['cells'] if c['cell_type'] == 'code'
             for line in ''.join(c['source']).split('\n')]
    hints = [line for line in lines if 'No module named' in line or 'set-up cell' in line]
    assert len(hints) == 1 and re.search(r'[\u4e00-\u9fff]', hints[0].split('#', 1)[1]), hints


@pytest.mark.parametrize('page', [p for p in tr.toc_pages() if '/exercise_' in p])
def test_a_chinese_exercise_intro_quotes_what_its_answer_cells_say(page):
    chinese = json.loads((ROOT / f'{tr.chinese_path(page)}.ipynb').read_text())
    markdown = [''.join(c['source']) for c in chinese['cells'] if c['cell_type'] == 'markdown']
    quoted = re.search(r'写着 \*([^*]+)\*', markdown[0])
    assert quoted, f'{page}: the intro does not quote the answer cells\' placeholder'
    answer_cells = [text for text in markdown if text.strip().startswith('_') and quoted[1] in text]
    assert answer_cells, f'{page}: no answer cell says {quoted[1]!r}'


def test_only_the_comment_that_ends_a_require_written_statement_is_a_message():
    code = ("# set-up  (not translated)\nx = 1  # nor this\nutils.require_written(1, x=x,\n"
            "                      y=y)  # stops here\nutils.require_written(2, z=z)\nprint('# no')")
    assert tr.translated_comments(code) == [((4, 28), 'stops here')]
    assert tr.translated_comments('%matplotlib inline\nutils.require_written(1, x=x  # open') == []


def test_markdown_blocks_reassemble_to_the_source():
    """Splitting a page into messages and putting them back loses nothing."""
    for page in tr.toc_pages():
        source = tr.source_of(page)
        texts = [source.read_text()] if source.suffix == '.md' else [
            ''.join(c['source']) for c in json.loads(source.read_text())['cells']
            if c['cell_type'] == 'markdown']
        for text in texts:
            back = tr.translate_markdown(text, lambda m: m)
            assert re.sub(r'\s+', ' ', back) == re.sub(r'\s+', ' ', text), page


def test_glossary_has_the_established_terms():
    terms = {zh: en for zh, en, _ in tr.glossary()}
    for zh in ('卷积层', '池化层', '全连接层', '丢弃法', '学习率', '批量大小', '迭代周期', '规模档位'):
        assert zh in terms, zh
    assert terms['规模档位'] == 'profile'
    page = (ROOT / 'book' / 'zh' / 'glossary.md').read_text()
    assert '| 卷积层 | convolutional layer |' in page


# ----------------------------------------------------------------------------- the check itself

def message_problems(english, chinese, template=False):
    return tr.message_problems(english, chinese, template)


def test_translation_must_keep_math_code_numbers_and_fields():
    ok = message_problems('A $5 \\times 5$ window in `nn.Conv2D` over 28 pixels.',
                          '`nn.Conv2D` 中 $5 \\times 5$ 的窗口扫过 28 个像素。')
    assert ok == []
    assert any('math' in p for p in message_problems('A $k$ window.', '一个 k 窗口。'))
    assert any('code' in p for p in message_problems('Call `train`.', '调用 train。'))
    assert any('numbers' in p for p in message_problems('In 1998 LeNet.', '当年 LeNet。'))
    assert any('format fields' in p for p in message_problems(
        'LeNet has {params:,} parameters.', 'LeNet 有 {n} 个参数。', template=True))
    assert message_problems('Training', '') == ['not translated']


def test_a_count_in_millions_may_be_written_in_wan():
    assert message_problems('ImageNet has 1.2 million images.', 'ImageNet 有 120 万张图像。') == []
    assert message_problems('ImageNet has 1.2 million images.', 'ImageNet 有 1.2 百万张图像。') == []
    assert any('numbers' in p for p in message_problems('ImageNet has 1.2 million images.',
                                                        'ImageNet 有 12 万张图像。'))


@pytest.fixture
def small_book(tmp_path, monkeypatch):
    """A one-page book with its own catalog folder, for the update/check cycle."""
    (tmp_path / 'book').mkdir()
    (tmp_path / '_toc.yml').write_text('format: jb-book\nroot: book/intro\n')
    (tmp_path / '_config.yml').write_text('title: Small\n')
    (tmp_path / 'utils').mkdir()
    shutil.copy(tr.GLOSSARY, tmp_path / 'glossary.tsv')
    page = tmp_path / 'book' / 'intro.md'
    page.write_text(textwrap.dedent('''\
        # Convolutions

        A convolution slides a window of size $k$ over the image.
        It was used in 1998.

        - first item
        - second item
        '''))
    monkeypatch.setattr(tr.pages, 'ROOT', tmp_path)
    monkeypatch.setattr(tr.pages, 'LOCALE', tmp_path / 'locale')
    monkeypatch.setattr(tr.pages, 'GLOSSARY', tmp_path / 'glossary.tsv')
    return page


def translate_all(answers):
    catalog = tr.read_catalog(tr.catalog_path('book/intro'))
    for entry in catalog:
        if entry.id:
            entry.string = answers[entry.id]
            entry.flags.discard('fuzzy')
    tr.write_catalog(catalog, tr.catalog_path('book/intro'))


ANSWERS = {'Convolutions': '卷积',
           'A convolution slides a window of size $k$ over the image. It was used in 1998.':
               '卷积在图像上滑动一个大小为 $k$ 的窗口。它在 1998 年就已使用。',
           'first item': '第一项', 'second item': '第二项'}


def test_stale_and_missing_translations_fail_the_check(small_book):
    assert 'no catalog' in tr.check(['book/intro'])['book/intro'][0]
    tr.update(['book/intro'])
    assert sum('not translated' in p for p in tr.check(['book/intro'])['book/intro']) == 4
    translate_all(ANSWERS)
    assert tr.check(['book/intro']) == {}
    md = tr.chinese_markdown('book/intro')
    assert '# 卷积\n' in md and '- 第二项\n' in md and '1998' in md

    # the English changes: the check fails before and after `update`, until a person looks
    small_book.write_text(small_book.read_text().replace('It was used in 1998.',
                                                         'LeNet used it in 1998.'))
    problems = tr.check(['book/intro'])['book/intro']
    assert any('not in the catalog' in p for p in problems)
    assert any('stale' in p for p in problems)
    with pytest.raises(tr.TranslationError):
        tr.chinese_markdown('book/intro')
    tr.update(['book/intro'])
    catalog = tr.read_catalog(tr.catalog_path('book/intro'))
    changed = catalog.get('A convolution slides a window of size $k$ over the image. '
                          'LeNet used it in 1998.')
    assert changed.fuzzy and '1998' in changed.string  # the old translation is kept, as a draft
    assert any('fuzzy' in p for p in tr.check(['book/intro'])['book/intro'])

    # a paragraph removed from the English: its translation is kept as obsolete, and reported
    small_book.write_text(small_book.read_text().replace('- second item\n', ''))
    tr.update(['book/intro'])
    assert any('obsolete' in p for p in tr.check(['book/intro'])['book/intro'])


def test_computed_english_sentences_are_reported():
    templates, problems = tr.say_templates(
        'utils.say("LeNet has {n:,} parameters.", n=n)\nMarkdown(f"{n} images")', 'cell 1')
    assert templates == ['LeNet has {n:,} parameters.']
    assert len(problems) == 1 and 'utils.say' in problems[0]
    _, problems = tr.say_templates('utils.say(f"{n} images")', 'cell 2')
    assert 'literal string template' in problems[0]


# ----------------------------------------------------------------------------- at run time

@pytest.fixture
def chinese():
    """Chinese for the test, English again after it."""
    from utils import i18n
    i18n.use_language('zh')
    yield i18n
    i18n.use_language('en')


def test_say_and_profile_note_speak_chinese(chinese):
    import utils
    i18n = chinese
    assert i18n.language() == 'zh'
    assert i18n.translate('learning rate') == '学习率'
    settings = utils.settings_for('01_lenet', profile='smoke')
    note = str(utils.profile_note(settings))
    assert settings.is_reduced and note.startswith('**缩减运行**') and '| 设置 | 本次运行 | 完整运行 |' in note
    assert not re.search(r'[A-Za-z]{3,}', note.replace('smoke', '')), note  # no English left
    with pytest.raises(LookupError, match='python -m scripts.translations update'):
        i18n.say('A sentence no catalog has: {n}', n=1)
    with pytest.raises(ValueError, match='COURSE_LANG'):
        i18n.use_language('fr')
    i18n.use_language('en')
    assert i18n.say('LeNet has {n:,} parameters.', n=61706) == 'LeNet has 61,706 parameters.'


def test_train_speaks_chinese(chinese, capsys):
    """The lines utils.train prints go through the catalogs too."""
    import utils
    from mxnet import gluon, nd
    mx = utils.mx
    mx.random.seed(0)
    X, y = nd.random.uniform(shape=(32, 1, 28, 28)), nd.array([i % 10 for i in range(32)])
    data = gluon.data.DataLoader(gluon.data.ArrayDataset(X, y), batch_size=16)
    net = gluon.nn.Dense(10)
    net.initialize()
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.1})
    utils.train(data, data, net, gluon.loss.SoftmaxCrossEntropyLoss(), trainer, mx.cpu(), 1,
                progress=False)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith('在 cpu(0) 上训练 | 2 个批量 / 2 个批量') and '1 个迭代周期' in lines[0], lines
    assert lines[-1].startswith('迭代周期 1。损失：') and '测试准确率' in lines[-1], lines


def test_runtime_reader_agrees_with_babel():
    """utils/i18n.py reads the .po files with the standard library: same entries as babel."""
    from utils import i18n
    for page in tr.all_catalog_names():
        path = tr.catalog_path(page)
        expected = {m.id: m.string for m in tr.read_catalog(path)
                    if m.id and m.string and not m.fuzzy}
        assert i18n.read_po(path) == expected, page


def test_figures_tables_lists_and_numbers_speak_chinese(chinese):
    """Figure labels, table headers and class names come from the catalogs; back in English after."""
    import matplotlib.pyplot as plt
    import pandas as pd
    import utils
    history = pd.DataFrame({'epoch': [1, 2], 'loss': [2.3, 1.9], 'train_acc': [0.2, 0.4],
                            'test_acc': [0.3, 0.5], 'seconds': [1.0, 1.1],
                            'examples_per_sec': [10.0, 9.0]})
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # a glyph missing from the font is a warning
        fig = utils.plot_history(history)
        fig.canvas.draw()
    labels = [fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel(), fig.axes[1].get_ylabel()]
    legend = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    plt.close(fig)
    assert labels == ['迭代周期', '损失', '准确率'] and legend == ['训练准确率', '测试准确率']
    assert 'CJK' in plt.rcParams['font.sans-serif'][0]
    assert list(chinese.translated_table(history).columns)[:4] == ['迭代周期', '损失', '训练准确率',
                                                                   '测试准确率']
    styled = chinese.translated_table(history.style.format({'loss': '{:.2f}'})).to_html()
    assert '损失' in styled and '2.30' in styled              # headers renamed, formats kept
    assert list(history.columns)[1] == 'loss'                 # the data keep their names
    assert utils.CLASS_NAMES[:3] == ['T恤', '裤子', '套衫'] and utils.CLASS_NAMES[9] == '短靴'
    assert chinese.join(['T恤', '裤子']) == 'T恤、裤子'
    assert (chinese.large_number(46_763_000), chinese.large_number(1_200_000)) == ('4,676 万', '120 万')
    chinese.use_language('en')
    assert utils.CLASS_NAMES[0] == 't-shirt' and chinese.large_number(46_763_000) == '46.8 million'
    assert 'CJK' not in plt.rcParams['font.sans-serif'][0]
