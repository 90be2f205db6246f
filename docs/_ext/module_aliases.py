"""References through a public module alias resolve to the module's real name.

``jn.optimizers`` is ``jaxnet.training.optimizers`` and ``jn.checkpoint`` is
``jaxnet.io.checkpoint``: the API reference documents each under its real (importable)
name, and a reference written the way users spell it (``jaxnet.optimizers.get``) links
there. The aliases are read from ``jaxnet.__all__``, so a module that moves needs no edit
here; a reference that matches no alias stays broken (an error under -W).
"""

import importlib
import inspect

PACKAGE = "jaxnet"


def module_aliases() -> dict[str, str]:
    """``{"jaxnet.optimizers": "jaxnet.training.optimizers", ...}`` for every module in
    ``__all__`` whose real name differs from its public one."""
    package = importlib.import_module(PACKAGE)
    aliases = {}
    for name in package.__all__:
        value = getattr(package, name)
        public = f"{PACKAGE}.{name}"
        if inspect.ismodule(value) and value.__name__ != public:
            aliases[public] = value.__name__
    return aliases


def resolve_alias(app, env, node, contnode):
    """Retry a missing Python reference under the real module name of its alias."""
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py":
        return None
    for public, real in module_aliases().items():
        if target == public or target.startswith(public + "."):
            domain = env.get_domain("py")
            return domain.resolve_xref(
                env,
                node["refdoc"],
                app.builder,
                node["reftype"],
                real + target[len(public) :],
                node,
                contnode,
            )
    return None


def setup(app):
    app.connect("missing-reference", resolve_alias)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
