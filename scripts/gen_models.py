#!/usr/bin/env python3
"""Generates crates/appwrite-webhooks/src/models/*.rs from crates/testkit/data/appwrite/models.json
(the repository's copy of ../shared/appwrite/models.json).

Run from the repository root after models.json changes:  python3 scripts/gen_models.py
then `cargo fmt`. The output is committed; the core crate's tests check every sample delivery
parses with it.

Read: models.json (Appwrite's main branch), and the bodies of every release's
deliveries in versions/ (whichever releases are there: 1.4.14, 1.6.2, 1.8.1 and
1.9.6 when this was written). Those releases are a sample, not the list: users run others, and
Appwrite adds, drops and reshapes fields from one release to the next, nested models included.

The rule, for every model (including ones no release here sends):
- Identity fields are required and strict: `$id` (unless a release's body of the model lacks it,
  as 1.4's index does), and the parent id that decides a payload's kind (`$tableId` of a row,
  `$collectionId` of a document; `IDENTITY`). A body without them, or with
  one of another JSON type, does not fit the model (the event is `Event::Unparsed`).
- Every other field is lenient: absent, `null`, or of an unexpected JSON type, it reads as
  `None` (an `Option` field) or its type's default (`""`, `0`, `false`, empty list or map). It
  never fails the model, at the top level or inside a nested model. Lists drop the items that do
  not fit (a user's `targets` keeps the targets that parse). Nested single models (a subscriber's
  `target`) and dates (`$createdAt` included) are `Option`s, `None` when absent or malformed.
  Nothing is logged per field; the raw body stays available (`Delivery::json`).
- A field is an `Option` when main declares it optional or nullable, or some release's body here
  lacks it (1.4's User has no `mfa`); otherwise it keeps its plain type, defaulted. Renamed
  fields are accepted under both names (`RENAMED`).
The generated files name the releases read. Attribute models whose fields are exactly their
column twin's are written as type aliases of it.
"""
import glob
import json
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The repository's copy of ../shared/appwrite (scripts/sync-shared.sh keeps it up to date).
DATA = os.path.join(ROOT, "crates", "testkit", "data", "appwrite")
MODELS = os.path.join(DATA, "models.json")
VERSIONS = os.path.join(DATA, "versions")

# Fields a release renamed: (model, main's name) -> the older names, accepted too.
RENAMED = {("execution", "resourceId"): ["functionId"]}
# Required, strictly typed fields beyond every model's `$id`: the parent ids that decide the kind
# (a row announced under a documents name is told apart by its `$tableId`).
IDENTITY = {("row", "$tableId"), ("document", "$collectionId")}


def is_identity(key, field, rule):
    """`$id` where main requires it and every release here sends it (1.4's index has none: its
    `key` names it), and the kind-deciding parent ids of `IDENTITY`."""
    if (key, field) in IDENTITY:
        return True
    return (field == "$id" and rule["required"] and not rule["nullable"]
            and not sometimes_absent(key, field))


def generic_model(model):
    """The open model a typed variant's payload is parsed into (`attributeString` -> `attribute`)."""
    if model.startswith("attribute"):
        return "attribute"
    if model.startswith("column") and model != "columnIndex":
        return "column"
    return model


def nested_model(rule, models):
    """The model a field holds, if any (`targets` -> `target`; column lists -> `column`)."""
    t = rule["type"]
    if isinstance(t, list):
        if all(x.startswith("column") for x in t):
            return "column"
        if all(x.startswith("attribute") for x in t):
            return "attribute"
        return None
    return t if t in models else None


def collect(models, shapes, key, value):
    """Records the field set of `value` as a `key` body, and of every model nested in it."""
    if isinstance(value, list):
        for item in value:
            collect(models, shapes, key, item)
        return
    if not isinstance(value, dict):
        return
    shapes.setdefault(key, []).append(set(value))
    rules = models.get(key, {}).get("rules")
    if isinstance(rules, dict):
        for field, rule in rules.items():
            inner = nested_model(rule, models)
            if inner and field in value:
                collect(models, shapes, inner, value[field])


def release_shapes(models):
    """The releases read, and for each model the field sets of its bodies there (nested too)."""
    releases, shapes = [], {}
    for path in sorted(glob.glob(os.path.join(VERSIONS, "*.json"))):
        if path.endswith(".local.json"):
            continue  # the same entries with another URL
        entries = json.load(open(path))
        if entries:
            releases.append(entries[0]["appwrite_version"])
        for entry in entries:
            try:
                body = json.loads(entry["body"])
            except ValueError:
                continue
            for model in {entry["model"], generic_model(entry["model"])}:
                collect(models, shapes, model, body)
    return releases, shapes


RELEASES, SHAPES = release_shapes(json.load(open(MODELS))["models"])


def sometimes_absent(key, field):
    """Whether some release sends a `key` body without `field` (under any of its names)."""
    names = [field] + RENAMED.get((key, field), [])
    # A column model also stands for its attribute twin (`Attribute*` are aliases of `Column*`).
    keys = [key] + (["attribute" + key[len("column"):]] if key.startswith("column") else [])
    shapes = [shape for k in keys for shape in SHAPES.get(k, [])]
    return any(not any(n in shape for n in names) for shape in shapes)
OUT = os.path.join(ROOT, "crates", "appwrite-webhooks", "src", "models")

FAMILIES = {
    "users": ("Users, sessions, tokens, targets and password-hash options.",
              ["user", "session", "token", "target", "preferences", "algoArgon2", "algoBcrypt",
               "algoMd5", "algoPhpass", "algoScrypt", "algoScryptModified", "algoSha"]),
    "databases": ("Databases, tables and collections, their columns/attributes and indexes, rows and documents.",
                  ["database", "table", "collection", "row", "document", "index", "columnIndex"]),
    "storage": ("Buckets and files.", ["bucket", "file"]),
    "teams": ("Teams and memberships.", ["team", "membership"]),
    "functions": ("Functions, deployments, executions and variables.",
                  ["function", "deployment", "execution", "headers", "variable"]),
    "sites": ("Sites.", ["site"]),
    "messaging": ("Messages, topics, subscribers and providers.", ["message", "topic", "subscriber", "provider"]),
    "schedules": ("Schedules.", ["schedule"]),
    "proxy": ("Proxy rules (custom domains).", ["proxyRule"]),
    "reports": ("Reports and their insights.", ["report", "insight", "insightCTA"]),
}
KEYWORDS = {"type", "enum", "async", "match", "ref", "mod", "move", "self", "struct", "use", "where", "loop", "impl", "trait", "fn", "let", "static", "const", "in", "for", "if", "else", "as", "dyn", "box", "final", "override", "priv", "virtual", "yield", "abstract", "become", "do", "macro", "typeof", "unsized", "try"}
# Models that stand for a family of variants: they keep every field they do not declare.
OPEN_MODELS = {"column", "attribute"}
# Models that carry user data next to their system fields: generic over that data.
GENERIC_MODELS = {"row", "document"}
# Hand-written in models/mod.rs: PHP encodes an empty map as `[]`.
HAND_WRITTEN = {"preferences"}


def rust_type_name(model):
    name = model[0].upper() + model[1:]
    return name.replace("CTA", "Cta")


def snake(field):
    field = field.lstrip("$")
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", field)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    s = s.lower().replace("-", "_")
    return ("r#" + s) if s in KEYWORDS else s


def camel(snake_name):
    """serde's `rename_all = "camelCase"` of a field name."""
    head, *rest = snake_name.removeprefix("r#").split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def doc(text, indent=""):
    text = " ".join(str(text).split()).replace("<", "&lt;").replace(">", "&gt;")
    # Appwrite's markdown links stay links; other brackets are text, not intra-doc links; bare
    # URLs become autolinks.
    links = []
    def keep(m):
        links.append(m.group(0))
        return f"\0{len(links) - 1}\0"
    text = re.sub(r"\[[^\]]+\]\(https?://[^)\s]+\)", keep, text)
    text = text.replace("[", "\\[").replace("]", "\\]")
    text = re.sub(r"(?<![<(])(https?://[^\s)]+[^\s).,])", r"<\1>", text)
    text = re.sub(r"\0(\d+)\0", lambda m: links[int(m.group(1))], text)
    return f"{indent}/// {text}\n" if text else ""


def lists_values(description, values):
    """Whether the description already names every allowed value (Appwrite's often does)."""
    return all(str(v) in description for v in values)


def twin_column(key, models):
    """For an attribute model whose fields are exactly its column twin's: that twin's key."""
    if not key.startswith("attribute"):
        return None
    twin = "column" + key[len("attribute"):]
    fields = lambda k: list(models[k]["rules"]) if isinstance(models[k]["rules"], dict) else []
    if twin in models and fields(twin) == fields(key):
        return twin
    return None


def gen_alias(key, twin):
    name, twin_name = rust_type_name(key), rust_type_name(twin)
    return (f"/// Appwrite's `{name}` response model: the same fields as [`{twin_name}`], under the\n"
            f"/// collections/attributes vocabulary.\npub type {name} = {twin_name};\n")


def family_of(model):
    if model.startswith("column") and model != "columnIndex":
        return "databases"
    if model.startswith("attribute"):
        return "databases"
    for fam, (_, names) in FAMILIES.items():
        if model in names:
            return fam
    raise SystemExit(f"model {model} has no family")


def field_type(rule, models):
    t = rule["type"]
    if isinstance(t, list):
        if all(x.startswith("column") for x in t):
            base, note = "Column", None
        elif all(x.startswith("attribute") for x in t):
            base, note = "Attribute", None
        else:
            base, note = "serde_json::Value", ", ".join(rust_type_name(x) for x in t)
    elif t in ("string", "enum"):
        base, note = "String", None
    elif t == "id":
        base, note = "String", None
    elif t == "integer":
        base, note = "i64", None
    elif t == "double":
        base, note = "f64", None
    elif t == "boolean":
        base, note = "bool", None
    elif t == "json":
        base, note = "serde_json::Value", None
    elif t == "array":
        base, note = "serde_json::Value", None
    elif t == "datetime":
        base, note = "OffsetDateTime", None
    elif t in models:
        base, note = rust_type_name(t), None
    else:
        raise SystemExit(f"unknown type {t}")
    return base, note


def gen_struct(key, model, models):
    name = rust_type_name(key)
    rules = model["rules"] if isinstance(model["rules"], dict) else {}
    out = []
    out.append(f"/// Appwrite's `{model['class']}` response model.\n")
    if key in GENERIC_MODELS:
        out.append("///\n/// `T` holds the fields Appwrite does not declare (the user's own data): a JSON map by\n/// default, or your own `Deserialize` type.\n")
    if key in OPEN_MODELS:
        out.append(f"///\n/// Stands for every `{name}*` variant: fields a variant adds are kept in `extra`; deserialize\n/// the same payload into the variant's own struct (e.g. `{name}String`) for typed access.\n")
    out.append("#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]\n")
    out.append('#[serde(rename_all = "camelCase")]\n')
    generic = ""
    if key in GENERIC_MODELS:
        out.append('#[serde(bound(deserialize = "T: DeserializeOwned", serialize = "T: Serialize"))]\n')
        generic = "<T = JsonMap>"
    out.append(f"pub struct {name}{generic} {{\n")
    seen = set()
    for field, rule in rules.items():
        fname = snake(field)
        assert fname not in seen, (key, fname)
        seen.add(fname)
        base, note = field_type(rule, models)
        desc = rule.get("description") or ""
        if rule.get("type") == "enum" and rule.get("enum") and not lists_values(desc, rule["enum"]):
            desc += " One of: " + ", ".join(f"`{v}`" for v in rule["enum"]) + " (new values may appear)."
        if note:
            desc += f" One of the models {note}."
        out.append(doc(desc, "    "))
        attrs = []
        # The struct renames to camelCase; only names that do not round-trip need their own.
        if camel(fname) != field:
            attrs.append(f'rename = "{field}"')
        for old in RENAMED.get((key, field), []):
            attrs.append(f'alias = "{old}"')
        ty = f"Vec<{base}>" if rule["array"] else base
        if is_identity(key, field, rule):
            # Required and strict: a body without it is not this model.
            if rule["array"] or base != "String":
                raise SystemExit(f"identity field {key}.{field} is not a string")
        elif base == "OffsetDateTime":
            if rule["array"]:
                raise SystemExit("datetime arrays are not supported")
            # Dates may be absent, empty, null or not a date: all `None`.
            ty = "Option<OffsetDateTime>"
            attrs.append('default, with = "crate::models::datetime::lenient"')
        elif rule.get("type") == "id" and not rule["array"]:
            # `$sequence`: a string, or a number in older releases; empty when absent.
            attrs.append('default, deserialize_with = "crate::models::lenient::id"')
        elif rule["array"]:
            attrs.append('default, deserialize_with = "crate::models::lenient::list"')
        elif (rule["required"] and not rule["nullable"] and not sometimes_absent(key, field)
              and nested_model(rule, models) in (None, *HAND_WRITTEN)):
            # Always sent by the releases read: its plain type, defaulted when a release lacks it.
            attrs.append('default, deserialize_with = "crate::models::lenient::or_default"')
        else:
            ty = f"Option<{ty}>"
            attrs.append('default, deserialize_with = "crate::models::lenient::option", '
                         'skip_serializing_if = "Option::is_none"')
        if attrs:
            out.append(f"    #[serde({', '.join(attrs)})]\n")
        out.append(f"    pub {fname}: {ty},\n")
    if key in GENERIC_MODELS:
        out.append("    /// The fields Appwrite does not declare: the user's own columns or preferences.\n")
        out.append("    #[serde(flatten)]\n    pub data: T,\n")
    if key in OPEN_MODELS:
        out.append("    /// Fields of the concrete variant (size, default, elements, …).\n")
        out.append("    #[serde(flatten)]\n    pub extra: JsonMap,\n")
    out.append("}\n")
    return "".join(out)


# Large families are folders: one module per sub-family, re-exported by the family's mod.rs.
SUB_FAMILIES = {
    "databases": {
        "columns": ("Columns and attributes (the same models in the two vocabularies).",
                    lambda k: (k.startswith("column") and k != "columnIndex") or k.startswith("attribute")),
        "resources": ("Databases, tables, collections, indexes, rows and documents.",
                      lambda k: True),
    },
}


def module_text(desc, keys, models, header):
    parts = []
    for key in keys:
        if key in HAND_WRITTEN:
            continue
        twin = twin_column(key, models)
        parts.append("\n" + (gen_alias(key, twin) if twin else gen_struct(key, models[key], models)))
    structs = "".join(parts)
    body = [header, f"//! {desc}\n\n"]
    if "DeserializeOwned" in structs:
        body.append("use serde::de::DeserializeOwned;\n")
    if "Deserialize)]" in structs:
        body.append("use serde::{Deserialize, Serialize};\n")
    if "OffsetDateTime" in structs:
        body.append("use time::OffsetDateTime;\n")
    body.append("\n#[allow(unused_imports)] // which models a family refers to varies\nuse crate::models::*;\n")
    body.append(structs)
    return "".join(body)


def main():
    models = json.load(open(MODELS))["models"]
    by_family = {}
    for key in sorted(models):
        by_family.setdefault(family_of(key), []).append(key)
    header = ("// Generated by scripts/gen_models.py from crates/testkit/data/appwrite/models.json and the\n"
              f"// bodies of releases {', '.join(RELEASES)} (versions/ there). Do not edit.\n\n")
    for fam, keys in by_family.items():
        desc = FAMILIES[fam][0]
        if fam in SUB_FAMILIES:
            folder = os.path.join(OUT, fam)
            os.makedirs(folder, exist_ok=True)
            remaining = list(keys)
            mods = []
            for sub, (sub_desc, wanted) in SUB_FAMILIES[fam].items():
                mine = [k for k in remaining if wanted(k)]
                remaining = [k for k in remaining if k not in mine]
                mods.append(sub)
                with open(os.path.join(folder, f"{sub}.rs"), "w") as f:
                    f.write(module_text(sub_desc, mine, models, header))
            index = [header, f"//! {desc}\n\n"]
            index += [f"mod {m};\n" for m in mods] + ["\n"] + [f"pub use {m}::*;\n" for m in mods]
            with open(os.path.join(folder, "mod.rs"), "w") as f:
                f.write("".join(index))
            old = os.path.join(OUT, f"{fam}.rs")
            if os.path.exists(old):
                os.remove(old)
        else:
            with open(os.path.join(OUT, f"{fam}.rs"), "w") as f:
                f.write(module_text(desc, keys, models, header))
    print("generated", ", ".join(sorted(by_family)))


main()
