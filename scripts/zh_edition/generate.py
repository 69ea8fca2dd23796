"""The Chinese sources written from the English ones and the catalogs; the Chinese site's config."""
import copy
import json
from pathlib import Path

import yaml

from scripts.colab_cell import BARE_IMPORT_LINE, IMPORT_LINE

from . import pages as paths
from .catalogs import lookup_for, glossary
from .markdown import translate_markdown
from .messages import translated_comments
from .pages import (CHINESE_PATH_LINE, ENGLISH_PATH_LINE, GENERATED_NOTE, LANG, TranslationError,
                    catalog_path, chinese_path, source_of, toc_pages)

# ----------------------------------------------------------------------------- generated files

def chinese_notebook(page, draft=False):
    source = source_of(page)
    nb = json.loads(source.read_text())
    lookup = lookup_for(page, draft)
    out = copy.deepcopy(nb)
    path_lines = 0
    for cell in out['cells']:
        text = ''.join(cell['source'])
        if cell['cell_type'] == 'markdown':
            text = translate_markdown(text, lookup)
        elif cell['cell_type'] == 'code':
            lines = text.split('\n')
            for (row, column), comment in translated_comments(text):
                lines[row - 1] = lines[row - 1][:column] + '# ' + lookup(comment)
            for n, line in enumerate(lines):
                if line.strip() == ENGLISH_PATH_LINE:
                    lines[n] = line.replace(ENGLISH_PATH_LINE, CHINESE_PATH_LINE)
                    path_lines += 1
                elif line == IMPORT_LINE:  # CHINESE_PATH_LINE above fails first and says it in Chinese
                    lines[n] = BARE_IMPORT_LINE
            text = '\n'.join(lines)
        cell['source'] = text.splitlines(keepends=True)
    if path_lines != 1:
        raise TranslationError(f'{source.relative_to(paths.ROOT)}: expected exactly one code line '
                               f'{ENGLISH_PATH_LINE!r} (found {path_lines}); the Chinese notebook '
                               f'replaces it with {CHINESE_PATH_LINE!r}')
    out['metadata']['course_edition'] = {
        'language': 'zh_CN', 'source': source.relative_to(paths.ROOT).as_posix(),
        'note': GENERATED_NOTE.format(source=source.relative_to(paths.ROOT).as_posix(),
                                      catalog=catalog_path(page).relative_to(paths.ROOT).as_posix())}
    return json.dumps(out, indent=1, ensure_ascii=False) + '\n'


def chinese_markdown(page, draft=False):
    source = source_of(page)
    note = GENERATED_NOTE.format(source=source.relative_to(paths.ROOT).as_posix(),
                                 catalog=catalog_path(page).relative_to(paths.ROOT).as_posix())
    return f'<!-- {note} -->\n' + translate_markdown(source.read_text(), lookup_for(page, draft))


def glossary_page():
    rows = glossary()
    lines = [f'<!-- {GENERATED_NOTE.format(source="locale/zh_CN/glossary.tsv", catalog="-")} -->',
             '# 术语表', '',
             '本书中文版统一使用下列术语，与原 Gluon 教程和《动手学深度学习》（d2l-zh）一致。', '',
             '| 中文 | English | 说明 |', '|---|---|---|']
    lines += [f'| {zh} | {en} | {note} |' for zh, en, note in rows]
    return '\n'.join(lines) + '\n'


def generated_files(draft=False):
    """{path relative to paths.ROOT: text} of every generated Chinese source."""
    files = {}
    for page in toc_pages():
        source = source_of(page)
        target = chinese_path(page) + source.suffix
        files[target] = chinese_notebook(page, draft) if source.suffix == '.ipynb' \
            else chinese_markdown(page, draft)
    files['book/zh/glossary.md'] = glossary_page()
    return files


def generated_dirs():
    return sorted({str(Path(p).parent) for p in generated_files_names()})


def generated_files_names():
    names = [chinese_path(p) + source_of(p).suffix for p in toc_pages()]
    return names + ['book/zh/glossary.md']


def same_notebook(a, b):
    """Notebooks compared by content (other tools' JSON formatting is not a change)."""
    try:
        return json.loads(a) == json.loads(b)
    except json.JSONDecodeError:
        return False


def generate(check_only=False, draft=False):
    files = generated_files(draft)
    differ = []
    for rel, text in files.items():
        path = paths.ROOT / rel
        old = path.read_text(encoding='utf-8') if path.exists() else None
        same = old == text or (rel.endswith('.ipynb') and old is not None and same_notebook(old, text))
        if not same:
            differ.append(rel)
            if not check_only:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding='utf-8')
    # generated files whose English source left the TOC
    for folder in {Path(r).parent for r in files}:
        for path in sorted((paths.ROOT / folder).glob('*')):
            rel = path.relative_to(paths.ROOT).as_posix()
            if path.suffix in ('.ipynb', '.md') and rel not in files:
                differ.append(rel + ' (no longer generated)')
                if not check_only:
                    path.unlink()
    return differ


def site_config(out_dir):
    """The Chinese site's _config.yml and _toc.yml, written into out_dir."""
    lookup = lookup_for('_toc')
    config = yaml.safe_load((paths.ROOT / '_config.yml').read_text())
    config['title'] = lookup(config['title'])
    config.setdefault('sphinx', {}).setdefault('config', {})
    config['sphinx']['config']['language'] = LANG
    config['sphinx']['config']['course_edition'] = 'zh'
    # myst-nb's buttons on folded cells ("Show code cell source"); {type} would stay English
    config['sphinx']['config']['nb_code_prompt_show'] = '显示单元内容'
    config['sphinx']['config']['nb_code_prompt_hide'] = '隐藏单元内容'
    # Jupyter Book resolves local_extensions against the config file's folder (elsewhere now)
    for name, path in config['sphinx'].get('local_extensions', {}).items():
        config['sphinx']['local_extensions'][name] = str((paths.ROOT / path).resolve())
    toc = paths.read_toc()
    toc['root'] = chinese_path(toc['root'])
    for entry in paths.toc_entries(toc):
        entry['file'] = chinese_path(entry['file'])
    for part in toc.get('parts', []):
        if part.get('caption'):
            part['caption'] = lookup(part['caption'])
    toc['parts'][0]['chapters'].append({'file': 'book/zh/glossary'})
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    header = '# Generated by scripts/translations.py config from _config.yml / _toc.yml\n'
    (out_dir / '_config.yml').write_text(header + yaml.safe_dump(config, allow_unicode=True,
                                                                 sort_keys=False))
    (out_dir / '_toc.yml').write_text(header + yaml.safe_dump(toc, allow_unicode=True,
                                                              sort_keys=False))
