"""Every notebook page of the built site carries Colab, Binder and JupyterHub launch links, each
opening that page's own notebook from the repository and branch named in _config.yml.

Reads the HTML of the build tests/test_site.py makes (`build_site_once`: one build per session,
shared), so no browser is needed here.
"""
import html.parser
import urllib.parse

import pytest

from test_site import CONFIG, HTML, PAGES, ZH_PAGES, build_site_once, source_of

REPO_URL = CONFIG['repository']['url'].rstrip('/')
ORG_REPO = REPO_URL.removeprefix('https://github.com/')
BRANCH = CONFIG['repository'].get('branch', 'main')
BUTTONS = CONFIG['launch_buttons']
# The English notebook pages, and the Chinese edition's (which open notebooks/zh/...).
NOTEBOOK_PAGES = [p for p in PAGES if source_of(p).suffix == '.ipynb']
NOTEBOOK_PAGES += [p for p in ZH_PAGES if p.startswith('zh/notebooks/')]


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get('href')
        if tag == 'a' and href:
            self.hrefs.append(href)


def launch_links(page_html):
    """{'colab': [...], 'binder': [...], 'jupyterhub': [...]}: the launch hrefs in a page."""
    parser = _Links()
    parser.feed(page_html)
    found = {'colab': [], 'binder': [], 'jupyterhub': []}
    for href in parser.hrefs:
        for kind, key in (('colab', 'colab_url'), ('binder', 'binderhub_url'),
                          ('jupyterhub', 'jupyterhub_url')):
            if BUTTONS.get(key) and href.startswith(BUTTONS[key].rstrip('/') + '/'):
                found[kind].append(href)
    return found


def same_link(a, b):
    """Equal up to how the query is percent-encoded ('/' may or may not be escaped)."""
    a, b = urllib.parse.urlsplit(a), urllib.parse.urlsplit(b)
    return a[:3] == b[:3] and sorted(urllib.parse.parse_qsl(a.query)) == sorted(urllib.parse.parse_qsl(b.query))


def expected_links(notebook):
    """The three links for `notebook` (a path in the repository, e.g. notebooks/01_lenet.ipynb)."""
    repo_name = ORG_REPO.split('/')[1]
    hub_query = urllib.parse.urlencode({'repo': REPO_URL,
                                        'urlpath': f"tree/{repo_name}/{notebook}",
                                        'branch': BRANCH})
    return {
        'colab': f"{BUTTONS['colab_url'].rstrip('/')}/github/{ORG_REPO}/blob/{BRANCH}/{notebook}",
        'binder': f"{BUTTONS['binderhub_url'].rstrip('/')}/v2/gh/{ORG_REPO}/{BRANCH}"
                  f"?urlpath=tree/{notebook}",
        'jupyterhub': f"{BUTTONS['jupyterhub_url'].rstrip('/')}/hub/user-redirect/git-pull?{hub_query}",
    }


def test_all_three_launch_services_are_configured():
    for key in ('colab_url', 'binderhub_url', 'jupyterhub_url'):
        assert BUTTONS.get(key, '').startswith('https://'), f"launch_buttons.{key} is not set"
    assert BUTTONS.get('notebook_interface') == 'classic'  # the links below use tree/ paths


def test_the_link_check_notices_a_wrong_or_missing_link():
    good = expected_links('notebooks/01_lenet.ipynb')
    page = ''.join(f'<a href="{h}">x</a>' for h in good.values())
    assert {k: v for k, v in launch_links(page).items()} == {k: [v] for k, v in good.items()}
    other = expected_links('notebooks/02_learning_representations.ipynb')
    for kind in good:
        assert not same_link(other[kind], good[kind])
    assert same_link(good['jupyterhub'], good['jupyterhub'].replace('%2F', '/'))
    assert launch_links('<a href="https://example.org/">x</a>') == \
        {'colab': [], 'binder': [], 'jupyterhub': []}


@pytest.fixture(scope='session')
def built_html():
    return build_site_once()


@pytest.mark.parametrize('page', NOTEBOOK_PAGES)
def test_every_notebook_page_has_three_launch_links_to_its_notebook(built_html, page):
    notebook = page.removeprefix('zh/') + '.ipynb'
    found = launch_links((built_html / f'{page}.html').read_text(encoding='utf-8'))
    for kind, link in expected_links(notebook).items():
        assert len(found[kind]) == 1 and same_link(found[kind][0], link), \
            f"{page}: {kind} launch link should be {link}, found {found[kind]}"
