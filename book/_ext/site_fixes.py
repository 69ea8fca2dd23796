"""Small fixes to the HTML that Jupyter Book 1.0.4 writes, so pages load without console errors.

- sphinx-thebe registers its inline configuration script once per read of the sources, and a
  `--all` build reads them twice; the second `const THEBE_JS_URL` declaration is a JavaScript
  error. Each page's script list is de-duplicated here (same file, same inline body).
"""


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get('script_files')
    if not scripts:
        return
    seen, kept = set(), []
    for js in scripts:
        key = (str(js.filename) if getattr(js, 'filename', None) else None,
               tuple(sorted(getattr(js, 'attributes', {}).items())))
        if key in seen:
            continue
        seen.add(key)
        kept.append(js)
    context['script_files'] = kept


def setup(app):
    app.connect('html-page-context', _dedupe_scripts)
    return {'parallel_read_safe': True, 'parallel_write_safe': True}
