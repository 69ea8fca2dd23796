"""Links to the course's own files follow _config.yml's repository (scripts/course_links.py)."""
import json

from babel.messages.catalog import Catalog

from scripts import course_links
from scripts.zh_edition.catalogs import read_catalog, write_catalog

OLD = 'https://github.com/old-org/course/blob/main/benchmarks/README.md#a-section'
D2L = 'https://github.com/d2l-ai/d2l-zh/blob/b8b9/chapter_x/alexnet-gluon.md'
NEW = 'https://github.com/new-org/new-course/blob/spring/benchmarks/README.md#a-section'


def test_every_link_to_the_course_in_the_repository_uses_the_configured_repository():
    assert course_links.relink(write=False) == []


def test_after_the_repository_moves_write_relinks_notebooks_and_catalogs_but_not_other_projects(tmp_path):
    (tmp_path / '_config.yml').write_text('repository:\n  url: https://github.com/new-org/new-course\n'
                                          '  branch: spring\n')
    (tmp_path / 'benchmarks').mkdir()
    (tmp_path / 'benchmarks' / 'README.md').write_text('# Benchmarks\n')
    (tmp_path / 'notebooks').mkdir()
    page = tmp_path / 'notebooks' / '01_lenet.ipynb'
    page.write_text(json.dumps({'cells': [{'cell_type': 'markdown', 'metadata': {},
                                           'source': [f'See [it]({OLD}) and [d2l]({D2L}).']}]}))
    po = tmp_path / 'locale' / 'zh_CN' / 'LC_MESSAGES' / 'notebooks' / '01_lenet.po'
    catalog = Catalog(locale='zh_CN')
    long = 'A sentence long enough that babel wraps it over several lines of the file: ' * 2
    catalog.add(f'{long}[it]({OLD}).', f'一句话 [它]({OLD})。')
    write_catalog(catalog, po)

    assert sorted(course_links.relink(write=False, root=tmp_path)) == sorted([page, po])
    assert sorted(course_links.relink(write=True, root=tmp_path)) == sorted([page, po])

    text = page.read_text()
    assert NEW in text and OLD not in text and D2L in text
    messages = {m.id: m.string for m in read_catalog(po) if m.id}
    assert messages == {f'{long}[it]({NEW}).': f'一句话 [它]({NEW})。'}
    assert course_links.relink(write=False, root=tmp_path) == []
