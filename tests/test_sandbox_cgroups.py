"""The cgroup settings of grading/sandbox_limits.py on both cgroup versions, with libcgroup faked.

The machines the suite runs on are cgroup v1 (hybrid), so the v2 names (memory.max,
memory.swap.max) never reach a real cgset there: here a fake /proc/self/cgroup and mountinfo name
a v1 or a v2 hierarchy, and a fake cgcreate/cgset accepts only the files that version has, as
libcgroup 2.0.2 does (it writes a name as given).
"""
import os

import pytest

from grading import sandbox_limits

V1 = {'table': '5:memory:/grader.slice\n4:pids:/grader.slice\n0::/grader.slice\n',
      'mounts': ['cgroup rw,memory', 'cgroup rw,pids', 'cgroup2 rw,nsdelegate'],
      'files': {'memory.limit_in_bytes', 'memory.memsw.limit_in_bytes', 'pids.max'},
      'events': ('memory.oom_control', 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n')}
V2 = {'table': '0::/grader.slice\n', 'mounts': ['cgroup2 rw,nsdelegate'],
      'files': {'memory.max', 'memory.swap.max', 'pids.max'},
      'events': ('memory.events', 'low 0\nhigh 0\nmax 5\noom 3\noom_kill 2\n')}


def fake_machine(tmp_path, monkeypatch, version):
    """Point sandbox_limits at a fake cgroup table and mount table; returns ({folder: {file:
    value}} of what cgset set, and 'removed': the paths of a group removed; the folder of each
    mount)."""
    roots, lines = [], []
    for i, mount in enumerate(version['mounts']):
        kind, options = mount.split()
        roots.append(tmp_path / f'{kind}-{i}')
        lines.append(f'{30 + i} 24 0:{30 + i} / {roots[-1]} rw,nosuid - {kind} {kind} {options}\n')
    (tmp_path / 'cgroup').write_text(version['table'])
    (tmp_path / 'mountinfo').write_text(''.join(lines))
    monkeypatch.setattr(sandbox_limits, 'CGROUP_TABLE', str(tmp_path / 'cgroup'))
    monkeypatch.setattr(sandbox_limits, 'MOUNT_TABLE', str(tmp_path / 'mountinfo'))
    written = {}

    def libcgroup(command, *args):
        if command == 'cgcreate':
            controller, path = args[1].split(':', 1)
            os.makedirs(sandbox_limits.folder(controller, path), exist_ok=True)  # v2: one folder for both
            return None
        setting, path = args[1:]
        name, value = setting.split('=')
        if name not in version['files']:
            return f'cgset: cannot set {name}'
        controller = name.split('.')[0]
        written.setdefault(sandbox_limits.folder(controller, path), {})[name] = value
        return None
    monkeypatch.setattr(sandbox_limits, '_tool', libcgroup)
    monkeypatch.setattr(sandbox_limits.Group, 'remove', lambda group: written.setdefault('removed', group.paths))
    return written, roots


@pytest.mark.parametrize('version, memory_files, pids_root', [
    (V1, {'memory.limit_in_bytes': '3000000', 'memory.memsw.limit_in_bytes': '3000000'}, 1),
    (V2, {'memory.max': '3000000', 'memory.swap.max': '0'}, 0)], ids=['v1', 'v2'])
def test_a_group_gets_its_memory_swap_and_pids_limits_under_the_names_of_its_cgroup_version(
        tmp_path, monkeypatch, version, memory_files, pids_root):
    written, roots = fake_machine(tmp_path, monkeypatch, version)
    group = sandbox_limits.Group.create(3_000_000, name='grading-1-test')
    assert group.why == {} and group.paths == {'memory': '/grader.slice/grading-1-test',
                                               'pids': '/grader.slice/grading-1-test'}
    memory, pids = (str(roots[i] / 'grader.slice' / 'grading-1-test') for i in (0, pids_root))
    assert written == ({memory: {**memory_files, 'pids.max': '512'}} if memory == pids else
                       {memory: memory_files, pids: {'pids.max': '512'}})
    assert group.cgexec() == ['cgexec', '-gmemory:/grader.slice/grading-1-test',
                              '-gpids:/grader.slice/grading-1-test']
    name, text = version['events']
    with open(os.path.join(memory, name), 'w') as f:
        f.write(text)
    assert group.oom_kills() == 2


def test_a_controller_whose_limit_cannot_be_set_is_left_out_and_says_why(tmp_path, monkeypatch):
    written, roots = fake_machine(tmp_path, monkeypatch, {**V2, 'files': {'pids.max'}})
    group = sandbox_limits.Group.create(3_000_000, name='grading-1-test')
    assert group.paths == {'pids': '/grader.slice/grading-1-test'}
    assert group.why == {'memory': 'cannot set memory.limit_in_bytes=3000000 or memory.max=3000000'}
    assert written['removed'] == {'memory': '/grader.slice/grading-1-test'}
    assert written[str(roots[0] / 'grader.slice' / 'grading-1-test')] == {'pids.max': '512'}
