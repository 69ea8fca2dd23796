"""utils.config: the environment is read in that one module, once; the rest takes arguments."""
import ast
from pathlib import Path

import pytest

from utils import config

UTILS = Path(__file__).resolve().parents[1] / 'utils'


def test_values_are_read_and_normalised():
    cfg = config.from_environment({'COURSE_PROFILE': ' Smoke ', 'COURSE_PROGRESS': '0',
                                   'FASHION_MNIST_DIR': '/data/fm', 'OMP_NUM_THREADS': '3',
                                   'XDG_CACHE_HOME': '/c', 'COURSE_LANG': 'zh'})
    assert (cfg.profile, cfg.progress, cfg.fashion_mnist_dir, cfg.omp_threads, cfg.lang) == \
        ('smoke', False, '/data/fm', 3, 'zh')
    assert cfg.cache_dir == Path('/c/lenet-to-alexnet/fashion-mnist')


def test_nothing_set_means_the_documented_defaults():
    cfg = config.from_environment({})
    assert (cfg.profile, cfg.progress, cfg.fashion_mnist_dir, cfg.omp_threads, cfg.lang) == \
        (None, True, None, None, 'en')
    assert cfg.cache_dir == Path.home() / '.cache' / 'lenet-to-alexnet' / 'fashion-mnist'


@pytest.mark.parametrize('name, value, says', [
    ('COURSE_PROFILE', 'huge', 'smoke, cpu, full'),
    ('OMP_NUM_THREADS', '0', 'positive whole number'),
    ('OMP_NUM_THREADS', 'many', 'positive whole number'),
])
def test_an_unusable_value_names_the_variable(name, value, says):
    with pytest.raises(config.ConfigError, match=says) as err:
        config.from_environment({name: value})
    assert name in str(err.value) and repr(value) in str(err.value)


def test_the_environment_is_read_once(monkeypatch):
    monkeypatch.setattr(config, '_current', None)
    monkeypatch.setenv('COURSE_PROFILE', 'cpu')
    first = config.current()
    monkeypatch.setenv('COURSE_PROFILE', 'full')
    assert config.current() is first and first.profile == 'cpu'
    assert config.reload().profile == 'full'


def _environment_reads(path):
    """Lines of `path` that read os.environ / os.getenv (writing OMP_NUM_THREADS is not reading)."""
    tree = ast.parse(path.read_text())
    stores = {id(node.value) for node in ast.walk(tree)
              if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ('environ', 'getenv') \
                and id(node) not in stores:
            found.append(node.lineno)
    return found


def test_only_config_reads_the_environment():
    reads = {p.name: _environment_reads(p) for p in sorted(UTILS.glob('*.py')) if p.name != 'config.py'}
    assert {name: lines for name, lines in reads.items() if lines} == {}
    assert _environment_reads(UTILS / 'config.py'), 'the scan itself must see config.py read it'


def test_the_book_builds_settings_are_read_and_checked():
    cfg = config.from_environment({'COURSE_SHARED_RESULTS': '/b/shared', 'COURSE_FIGURE_FORMAT': 'SVG'})
    assert (cfg.shared_results, cfg.figure_format) == ('/b/shared', 'svg')
    assert config.from_environment({}).shared_results is None  # students: everything computed
    with pytest.raises(config.ConfigError, match='png or svg'):
        config.from_environment({'COURSE_FIGURE_FORMAT': 'jpeg'})
