"""An import contract import-linter does not ship: an allow-list.

The built-in ``forbidden`` contract is a deny-list: a core module importing a library nobody
thought to forbid (psycopg, pypdf, ...) passes it. This contract names what ``source_modules``
may import besides themselves: the standard library and the listed packages, nothing else.
Registered in pyproject.toml under ``[tool.importlinter] contract_types``.
"""

from __future__ import annotations

import sys

import grimp
from importlinter import Contract, ContractCheck, fields, output
from importlinter.domain.imports import Module


class AllowListContract(Contract):
    type_name = "allow_list"

    source_modules = fields.ListField(subfield=fields.ModuleField())
    allowed_modules = fields.ListField(subfield=fields.StringField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        # import-linter's fields are typed as the fields, not as the values they hold.
        listed: list[str] = self.allowed_modules  # type: ignore[assignment]
        modules: list[Module] = self.source_modules  # type: ignore[assignment]
        allowed = set(listed) | set(sys.stdlib_module_names)
        sources = [module.name for module in modules]
        strays: list[tuple[str, str]] = []
        for source in sources:
            for importer in sorted({source} | graph.find_descendants(source)):
                for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                    top = imported.split(".")[0]
                    inside = any(imported == s or imported.startswith(s + ".") for s in sources)
                    if not inside and top not in allowed:
                        strays.append((importer, imported))
        return ContractCheck(kept=not strays, metadata={"strays": strays})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for importer, imported in check.metadata["strays"]:
            output.print_error(f"{importer} imports {imported}, which is not allowed.")
            output.new_line()
