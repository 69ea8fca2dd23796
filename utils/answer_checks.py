"""What a submission's code uses, read from its source: static checks for hidden tests.

The grader's hidden tests get the submitted notebook's code cells as text (`submission_sources`).
`forbidden_uses(sources, roots, names, attributes)` parses them with `ast` (nothing is run) and
reports where the code a function depends on uses something the question asks to write by hand:
for exercise 4, a "from scratch" AlexNet that calls Gluon's layers or MXNet's fused operators.
`tampering(sources)` reports code that rebinds library functions or reaches names indirectly,
which would let a notebook change what the grader's probe measures.

What "the code a function depends on" means: the last top-level definition of each root (a
`def`, a `class`, an assignment or an import), and, transitively, the last top-level definition of
every name that code mentions. So helpers, aliases (`conv = nd.Convolution`), imported names
(`from mxnet.ndarray import Dropout as drop`), names looked up by a constant string
(`getattr(nd, 'Dropout')`) and closures built by another function are all seen.

What it cannot see (a determined student can hide a call; the checks make that deliberate):
names built at run time (`getattr(nd, 'Drop' + 'out')` is reported only as a `getattr` with a
computed name), code that is not in the notebook (a module the notebook writes to disk and
imports, which `tampering` reports only when the code opens a file named '....py' or names the
grader's modules), definitions made inside a function for the global namespace, and a cell whose text is not
valid Python (the kernel cannot run it either). The probe itself runs in the submission's kernel
and imports utils/scratch_probe.py from the sandbox's copy of utils/, which the submission can
write: a file written there under a computed name would not be seen.
"""
import ast

INDIRECT_CALLS = frozenset({'exec', 'eval', 'compile', '__import__', 'globals', 'setattr',
                            'delattr', 'vars', 'get_ipython'})
INDIRECT_ATTRIBUTES = frozenset({'__dict__', '__globals__', '__builtins__', '__code__', 'modules',
                                 '__getattribute__'})
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.ListComp, ast.SetComp,
          ast.DictComp, ast.GeneratorExp)
NAME_LOOKUPS = frozenset({'getattr', '__getattribute__'})  # getattr(nd, 'Dropout')
INDIRECT_MODULES = frozenset({'importlib', 'builtins', 'ctypes', 'inspect'})
# The grader's own probe and checks (the sandbox's copy of utils/ is the submission's to write:
# a cell that names them, or opens a .py file, could replace what the probe imports).
GRADER_WORDS = ('scratch_probe', 'grader_probe', 'grader_seed', 'answer_checks', 'evidence.')
LIBRARY_ALIASES = frozenset({'mx', 'mxnet', 'nd', 'ndarray', 'np', 'numpy', 'utils', 'gluon',
                             'autograd', 'init', 'math', 'npx', 'nn'})


def parse_cells(sources):
    """[(cell number from 1, ast.Module)] of the cells that parse (IPython magics and shell lines
    blanked first, as the kernel would not hand them to Python)."""
    parsed = []
    for number, source in enumerate(sources or [], 1):
        if not isinstance(source, str):
            continue
        lines = ['' if line.lstrip().startswith(('%', '!')) else line
                 for line in source.splitlines()]
        try:
            parsed.append((number, ast.parse('\n'.join(lines))))
        except (SyntaxError, ValueError):
            continue
    return parsed


def _top_level_statements(body):
    """Statements run at module level, including those inside if/for/while/with/try blocks."""
    for node in body:
        yield node
        for field in ('body', 'orelse', 'finalbody', 'handlers'):
            inner = getattr(node, field, None)
            if isinstance(inner, list) and not isinstance(node, (ast.FunctionDef, ast.ClassDef,
                                                                 ast.AsyncFunctionDef)):
                yield from _top_level_statements(inner)


def _bound_names(node):
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split('.')[0] for a in node.names]
    targets = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        targets = [node.target]
    elif isinstance(node, (ast.For, ast.AsyncFor)):
        targets = [node.target]
    elif isinstance(node, (ast.With, ast.AsyncWith)):
        targets = [item.optional_vars for item in node.items if item.optional_vars]
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


def definitions(parsed):
    """{name: (cell number, statement)} of the last top-level statement binding each name."""
    found = {}
    for number, module in parsed:
        for node in _top_level_statements(module.body):
            for name in _bound_names(node):
                found[name] = (number, node)
    return found


def _scanned_part(node, name):
    """What of a binding statement defines `name`: a `for` loop's iterable (not its body), a
    `with` statement's context, only the import of `name` from an import statement."""
    if isinstance(node, (ast.For, ast.AsyncFor)):
        return [node.iter]
    if isinstance(node, (ast.With, ast.AsyncWith)):
        return [item.context_expr for item in node.items]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        mine = [a for a in node.names if (a.asname or a.name).split('.')[0] == name]
        part = ast.ImportFrom(module=node.module, names=mine, level=0) \
            if isinstance(node, ast.ImportFrom) else ast.Import(names=mine)
        return [ast.copy_location(part, node)]
    return [node]


def dependencies(parsed, roots):
    """[(cell number, node)] of the definitions of `roots` and of every top-level name they use."""
    defs = definitions(parsed)
    todo = [r for r in roots if r in defs]
    seen, out = set(todo), []
    while todo:
        name = todo.pop(0)
        number, node = defs[name]
        for part in _scanned_part(node, name):
            out.append((number, part))
            for used in _global_names(part):
                if used in defs and used not in seen:
                    seen.add(used)
                    todo.append(used)
    return out


def _local_names(function):
    """Names a function (or lambda, class body, comprehension) binds itself: its arguments and everything it
    assigns, nested scopes included (a slight over-approximation: Python's rule is per scope)."""
    names = set()
    for sub in ast.walk(function):
        if isinstance(sub, ast.arg):
            names.add(sub.arg)
        elif isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
            names.add(sub.id)
        elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and sub is not function:
            names.add(sub.name)
    return names


def _global_names(node):
    """Names `node` reads from the notebook's top level (a function's own locals left out, so a
    loop variable `p` inside `sgd` is not the notebook's top-level `p`)."""
    scopes = [n for n in ast.walk(node) if isinstance(n, SCOPES)]
    local = set().union(*[_local_names(f) for f in scopes]) if scopes else set()
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)
            and isinstance(n.ctx, ast.Load) and n.id not in local}


def _mentions(node):
    """(kind, text, node) of every name the node spells: names, attributes, imported names, and
    the constant name of a `getattr(obj, 'name')` (other strings are data: `layer['dropout']`)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            yield 'name', sub.id, sub
        elif isinstance(sub, ast.Attribute):
            yield 'attribute', sub.attr, sub
        elif isinstance(sub, (ast.Import, ast.ImportFrom)):
            for alias in sub.names:
                for part in alias.name.split('.') + ([sub.module] if isinstance(sub, ast.ImportFrom)
                                                     and sub.module else []):
                    for piece in part.split('.'):
                        yield 'import', piece, sub
        elif isinstance(sub, ast.Call) and isinstance(sub.func, (ast.Name, ast.Attribute)) \
                and getattr(sub.func, 'id', getattr(sub.func, 'attr', '')) in NAME_LOOKUPS:
            for arg in sub.args[1:2] if isinstance(sub.func, ast.Name) else sub.args[:1]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    yield 'string', arg.value, sub


def forbidden_uses(sources, roots, names=(), attributes=()):
    """Sorted messages 'cell N, line L: uses X (in what `root` depends on)' for every mention of a
    forbidden name (a variable or module name, e.g. `gluon_net`, `gluon`) or attribute (e.g.
    `FullyConnected`, matched as `nd.FullyConnected`, an import of it, or the string
    'FullyConnected') in the code the functions `roots` depend on."""
    names, attributes = set(names), set(attributes)
    found = set()
    for number, node in dependencies(parse_cells(sources), roots):
        for kind, text, sub in _mentions(node):
            hit = (kind == 'name' and text in names) or \
                  (kind in ('attribute', 'import', 'string') and text in attributes | names)
            if hit:
                found.add((number, getattr(sub, 'lineno', 0), text))
    where = ', '.join(roots)
    return [f"code cell {n}, line {line}: uses {text} (in what {where} depends on)"
            for n, line, text in sorted(found)]


def missing_definitions(sources, roots):
    """The roots that no top-level statement of the submission defines."""
    defs = definitions(parse_cells(sources))
    return [r for r in roots if r not in defs]


def _opens_python_file(node):
    """Whether `node` is open(...)/Path(...).open/.write_text/.write_bytes with a '...py' string."""
    if not isinstance(node, ast.Call):
        return False
    name = node.func.id if isinstance(node.func, ast.Name) else \
        node.func.attr if isinstance(node.func, ast.Attribute) else ''
    if name not in ('open', 'write_text', 'write_bytes', 'Path'):
        return False
    parts = list(node.args) + [node.func]
    return any(isinstance(c, ast.Constant) and isinstance(c.value, str) and c.value.endswith('.py')
               for part in parts for c in ast.walk(part))


def tampering(sources):
    """Sorted messages for code anywhere in the submission that could change what the grader's
    probe measures: assigning to or deleting an attribute of a library module (`nd.relu = ...`),
    exec/eval/setattr/globals()/..., `getattr` with a computed name, `sys.modules`, importlib,
    any mention of the grader's probe and checks, and opening a .py file (the sandbox's copy
    of utils/ is writable: a notebook could replace the module the probe imports)."""
    found = set()
    for number, module in parse_cells(sources):
        for sub in ast.walk(module):
            line = getattr(sub, 'lineno', 0)
            targets = sub.targets if isinstance(sub, (ast.Assign, ast.Delete)) else \
                [sub.target] if isinstance(sub, (ast.AugAssign, ast.AnnAssign)) else []
            for target in targets:
                root = target
                while isinstance(root, (ast.Attribute, ast.Subscript)):
                    root = root.value
                if isinstance(target, ast.Attribute) and isinstance(root, ast.Name) \
                        and root.id in LIBRARY_ALIASES:
                    found.add((number, line, f'changes {ast.unparse(target)}'))
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name):
                if sub.func.id in INDIRECT_CALLS:
                    found.add((number, line, f'calls {sub.func.id}()'))
                if sub.func.id == 'getattr' and len(sub.args) > 1 and not (
                        isinstance(sub.args[1], ast.Constant) and isinstance(sub.args[1].value, str)):
                    found.add((number, line, 'calls getattr() with a computed name'))
            if isinstance(sub, ast.Attribute) and sub.attr in INDIRECT_ATTRIBUTES:
                found.add((number, line, f'uses .{sub.attr}'))
            if isinstance(sub, (ast.Import, ast.ImportFrom)):
                modules = [a.name for a in sub.names] + ([sub.module] if getattr(sub, 'module', None) else [])
                for name in modules:
                    if name.split('.')[0] in INDIRECT_MODULES:
                        found.add((number, line, f'imports {name}'))
            spelled = sub.id if isinstance(sub, ast.Name) else sub.attr if isinstance(sub, ast.Attribute) \
                else sub.value if isinstance(sub, ast.Constant) and isinstance(sub.value, str) else ''
            if any(word in spelled for word in GRADER_WORDS):
                found.add((number, line, f'mentions {spelled[:60]!r}'))
            if _opens_python_file(sub):
                found.add((number, line, 'opens a .py file'))
    return [f"code cell {n}, line {line}: {what}" for n, line, what in sorted(found)]
