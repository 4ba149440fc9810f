"""Build the labelled retrieval set and the throughput chunk corpus, deterministically,
from the docstrings of CPython's standard library (PSF-licensed text).

Outputs (beside this file; chunks.jsonl in a data/ folder beside it):
  passages.jsonl       {"id", "name", "summary", "body"}   one stdlib docstring each
  queries_para.jsonl   {"qid", "query", "gold"}            hand-written paraphrase questions
  queries_lex.jsonl    {"qid", "query", "gold"}            docstring summary line -> rest of docstring
  chunks.jsonl         {"id", "text"}                      1,000 chunks of 110 words (~200 tokens)
Two retrieval tasks are defined over passages.jsonl:
  para: passage text = name + "\n" + summary + " " + body ; queries_para
  lex : passage text = name + "\n" + body                 ; queries_lex (summary line as query)
Run with the machine's python3 (3.11); no third-party packages.
"""

import importlib
import inspect
import json
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent
OUT.mkdir(parents=True, exist_ok=True)
BODY_MAX = 330

# (qualified name, hand-written paraphrase question). Written to avoid the function's own name
# and most of its docstring's wording where a natural phrasing allows.
PARA = [
    ("time.time", "get a Unix timestamp for right now"),
    ("time.sleep", "pause the program for a little while"),
    ("os.getcwd", "which directory is my script running in"),
    ("os.listdir", "get the names of the entries inside a folder"),
    ("os.makedirs", "create a folder together with any missing parent folders"),
    ("os.remove", "delete a file from disk"),
    ("os.path.exists", "check whether something is present at a given location on disk"),
    ("os.path.splitext", "separate the extension from a filename"),
    ("os.path.expanduser", "replace a leading tilde with the user's home folder"),
    ("os.getenv", "read a setting from the process environment with a fallback"),
    ("os.cpu_count", "how many processors does this machine have"),
    ("shutil.rmtree", "delete a folder and everything inside it"),
    ("shutil.copyfile", "duplicate the contents of one file into another file"),
    ("shutil.which", "find where a command-line program is installed"),
    ("shutil.disk_usage", "how much free space is left on a drive"),
    ("json.dumps", "turn a dictionary into text for a web API"),
    ("json.loads", "parse text received from a web API into Python dicts and lists"),
    ("re.sub", "replace every place a pattern matches with other text"),
    ("re.findall", "collect every piece of text that a regular expression matches"),
    ("re.escape", "make user input safe to embed literally in a regular expression"),
    ("random.shuffle", "put the items of a list in a random order"),
    ("random.choice", "pick one element at random"),
    ("random.sample", "draw several distinct items without putting them back"),
    ("math.gcd", "largest number that divides both integers evenly"),
    ("math.isclose", "compare two floating point values with a tolerance"),
    ("math.sqrt", "the number which multiplied by itself gives x"),
    ("statistics.median", "the middle value when the numbers are sorted"),
    ("statistics.stdev", "how spread out a sample of measurements is"),
    ("itertools.chain", "loop over several lists one after another as if they were one"),
    ("itertools.permutations", "every possible ordering of some items"),
    ("itertools.groupby", "bunch together consecutive elements that share a key"),
    ("functools.lru_cache", "remember the results of an expensive function so repeated calls are fast"),
    ("functools.reduce", "fold a list into a single value by combining items pairwise"),
    ("functools.partial", "pre-fill some arguments of a function to get a new callable"),
    ("collections.Counter", "tally how many times each item appears"),
    ("collections.namedtuple", "lightweight record type whose fields can be read by attribute"),
    ("collections.deque", "list-like container that is fast to add to and remove from at both ends"),
    ("collections.defaultdict", "mapping that fills in missing keys automatically"),
    ("subprocess.run", "execute an external program and wait for it to finish"),
    ("subprocess.check_output", "run a program and capture what it prints"),
    ("heapq.heappush", "add an item to a priority queue"),
    ("heapq.nlargest", "the few biggest elements of a big dataset"),
    ("bisect.bisect_left", "where should a value be inserted to keep a list ordered"),
    ("copy.deepcopy", "clone an object together with everything nested inside it"),
    ("pickle.dumps", "serialize an object to bytes"),
    ("tempfile.mkdtemp", "make a scratch folder that I must clean up myself"),
    ("tempfile.NamedTemporaryFile", "scratch file that has a visible path other programs can open"),
    ("glob.glob", "list the files whose names look like *.txt"),
    ("fnmatch.fnmatch", "test if a filename fits a shell wildcard"),
    ("uuid.uuid4", "generate a random unique identifier"),
    ("secrets.token_hex", "generate an unguessable string for a password reset link"),
    ("hashlib.sha256", "compute a SHA-2 digest of some bytes"),
    ("hmac.compare_digest", "check two secrets for equality without leaking timing information"),
    ("base64.b64encode", "turn binary data into printable ASCII characters"),
    ("zlib.compress", "shrink bytes with deflate"),
    ("textwrap.dedent", "strip the shared indentation from a block of lines"),
    ("textwrap.wrap", "break a long paragraph into lines no wider than 70 characters"),
    ("string.capwords", "uppercase the first letter of every word"),
    ("urllib.parse.urlparse", "break a web address into scheme, host and path"),
    ("urllib.parse.quote", "percent-encode special characters for a link"),
    ("urllib.parse.urlencode", "build the part after the question mark in a link from a dict"),
    ("datetime.datetime.strptime", "read a date out of text given its format"),
    ("datetime.datetime.now", "what is the local date and clock time right now"),
    ("calendar.isleap", "does February have 29 days this year"),
    ("csv.reader", "read rows from a spreadsheet exported with commas"),
    ("sqlite3.connect", "open a database file to run SQL against"),
    ("threading.Lock", "stop two threads from entering the same section at once"),
    ("queue.Queue", "hand work items from producer threads to consumer threads safely"),
    ("logging.basicConfig", "one call to set up where log messages go and their level"),
    ("argparse.ArgumentParser", "turn command-line flags and options into Python values"),
    ("difflib.get_close_matches", "suggest similar words for a misspelled input"),
    ("difflib.unified_diff", "show what lines changed between two versions of a text, like the diff tool"),
    ("inspect.signature", "find out which parameters a callable accepts"),
    ("traceback.format_exc", "get the stack trace of the error being handled as a string"),
    ("warnings.warn", "tell users that a feature is deprecated"),
    ("contextlib.suppress", "ignore certain errors inside a with block"),
    ("operator.itemgetter", "callable that fetches a key or index, handy as a sort key"),
    ("struct.pack", "convert numbers into raw bytes with C layout"),
    ("shlex.split", "split a shell command string into arguments, respecting quotes"),
    ("platform.system", "is this Linux, Windows or macOS"),
    ("unicodedata.normalize", "convert accented text to a canonical composed or decomposed form"),
    ("html.escape", "make text safe to put in a web page by converting angle brackets and ampersands"),
    ("zipfile.ZipFile", "read and write compressed archives"),
    ("gzip.open", "open a .gz file as text or bytes"),
    ("socket.gethostname", "what is this computer's network name"),
    ("sys.getsizeof", "how much memory does an object take"),
    ("pathlib.Path.read_text", "load the whole contents of a text file in one call"),
    ("builtins.sorted", "get a new list with the items in ascending order"),
    ("builtins.zip", "pair up items from two lists position by position"),
    ("builtins.isinstance", "check whether an object is of a given type"),
    ("str.strip", "remove spaces at both ends of a string"),
]

# Modules whose public functions/classes fill the passage pool (gold + same-topic distractors).
POOL_MODULES = [
    "time",
    "os",
    "os.path",
    "shutil",
    "json",
    "re",
    "random",
    "math",
    "statistics",
    "itertools",
    "functools",
    "collections",
    "subprocess",
    "heapq",
    "bisect",
    "copy",
    "pickle",
    "tempfile",
    "glob",
    "fnmatch",
    "uuid",
    "secrets",
    "hashlib",
    "hmac",
    "base64",
    "zlib",
    "textwrap",
    "string",
    "urllib.parse",
    "datetime",
    "calendar",
    "csv",
    "sqlite3",
    "threading",
    "queue",
    "logging",
    "argparse",
    "difflib",
    "inspect",
    "traceback",
    "warnings",
    "contextlib",
    "operator",
    "struct",
    "shlex",
    "platform",
    "unicodedata",
    "html",
    "zipfile",
    "gzip",
    "socket",
    "sys",
    "pathlib",
    "builtins",
]
POOL_SIZE = 300


def resolve(qual):
    parts = qual.split(".")
    if parts[0] == "str":
        return getattr(str, parts[1])
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for p in parts[i:]:
            obj = getattr(obj, p)
        return obj
    raise ImportError(qual)


def clean(doc):
    doc = inspect.cleandoc(doc or "")
    # drop a leading "name(sig) -> x" line that C functions carry
    lines = doc.splitlines()
    while lines and re.match(r"^[\w.]+\(.*\)\s*(-+>.*)?$", lines[0].strip()):
        lines = lines[1:]
    doc = "\n".join(lines).strip()
    return doc


def split_doc(doc):
    """summary = first paragraph's first sentence; body = the rest."""
    doc = re.sub(r"\s+", " ", doc).strip()
    m = re.match(r"(.+?[.!?](?<!e\.g\.)(?<!i\.e\.)(?<!etc\.)(?<!\.\.\.))(\s+(?=[A-Z`'\"(*])|$)(.*)", doc)
    if not m:
        return doc, ""
    return m.group(1).strip(), m.group(3).strip()


def trunc(s, n):
    if len(s) <= n:
        return s
    s = s[:n]
    return s[: s.rfind(" ")] if " " in s else s


def entry(qual, min_len=30):
    obj = resolve(qual)
    doc = clean(obj.__doc__)
    if len(doc) < min_len:
        return None
    summary, body = split_doc(doc)
    return {"name": qual, "summary": trunc(summary, 200), "body": trunc(body, BODY_MAX)}


def main():
    gold = []
    for qual, _ in PARA:
        e = entry(qual, min_len=12)
        if e is None:
            sys.exit(f"no docstring for {qual}")
        gold.append(e)
    names = {e["name"] for e in gold}
    # distractors: round-robin over modules, members sorted by name, public, own docstring
    per_mod = []
    for m in POOL_MODULES:
        mod = importlib.import_module(m)
        cands = []
        for n in sorted(dir(mod)):
            if n.startswith("_"):
                continue
            qual = f"{m}.{n}"
            if qual in names:
                continue
            try:
                obj = getattr(mod, n)
            except Exception:  # noqa: BLE001 - a stdlib name that cannot be read is skipped
                continue
            if not (inspect.isfunction(obj) or inspect.isbuiltin(obj) or inspect.isclass(obj)):
                continue
            mod_of = getattr(obj, "__module__", "") or ""
            if m != "builtins" and mod_of.lstrip("_").split(".")[0] not in (
                m.split(".")[0],
                "posix",
                "posixpath",
                "genericpath",
            ):
                continue  # re-exports from other modules
            if inspect.isclass(obj) and issubclass(obj, BaseException):
                continue
            try:
                e = entry(qual)
            except Exception:  # noqa: BLE001 - a stdlib name that cannot be read is skipped
                e = None
            if e and len(e["summary"]) >= 20:
                cands.append(e)
        per_mod.append(cands)
    distract, seen_text = [], {(e["summary"], e["body"]) for e in gold}
    i = 0
    while len(gold) + len(distract) < POOL_SIZE and any(per_mod):
        cands = per_mod[i % len(per_mod)]
        if cands:
            e = cands.pop(0)
            key = (e["summary"], e["body"])
            if key not in seen_text:
                seen_text.add(key)
                distract.append(e)
        i += 1
    pool = gold + distract
    pool.sort(key=lambda e: e["name"])
    for k, e in enumerate(pool):
        e["id"] = f"p{k:03d}"
    by_name = {e["name"]: e["id"] for e in pool}
    with open(OUT / "passages.jsonl", "w") as f:
        for e in pool:
            f.write(
                json.dumps({"id": e["id"], "name": e["name"], "summary": e["summary"], "body": e["body"]})
                + "\n"
            )
    with open(OUT / "queries_para.jsonl", "w") as f:
        for k, (qual, q) in enumerate(PARA):
            f.write(json.dumps({"qid": f"para{k:03d}", "query": q, "gold": by_name[qual]}) + "\n")
    # lex: every passage whose body is substantial, summary as query, capped at 100
    lex = [e for e in pool if len(e["body"]) >= 120]
    step = max(1, len(lex) // 100)
    lex = lex[::step][:100]
    with open(OUT / "queries_lex.jsonl", "w") as f:
        for k, e in enumerate(lex):
            f.write(json.dumps({"qid": f"lex{k:03d}", "query": e["summary"], "gold": e["id"]}) + "\n")
    print(f"passages={len(pool)} para={len(PARA)} lex={len(lex)}")
    make_chunks()


CHUNK_MODULES = [
    "os",
    "os.path",
    "shutil",
    "json",
    "re",
    "random",
    "math",
    "statistics",
    "itertools",
    "functools",
    "collections",
    "subprocess",
    "heapq",
    "bisect",
    "copy",
    "pickle",
    "tempfile",
    "glob",
    "uuid",
    "secrets",
    "hashlib",
    "hmac",
    "base64",
    "zlib",
    "textwrap",
    "string",
    "urllib.parse",
    "urllib.request",
    "datetime",
    "calendar",
    "csv",
    "sqlite3",
    "threading",
    "queue",
    "logging",
    "argparse",
    "difflib",
    "inspect",
    "traceback",
    "warnings",
    "contextlib",
    "operator",
    "struct",
    "shlex",
    "platform",
    "unicodedata",
    "html",
    "zipfile",
    "gzip",
    "tarfile",
    "socket",
    "sys",
    "pathlib",
    "builtins",
    "asyncio",
    "email",
    "email.message",
    "http.client",
    "http.server",
    "decimal",
    "fractions",
    "enum",
    "dataclasses",
    "typing",
    "abc",
    "io",
    "codecs",
    "locale",
    "gettext",
    "configparser",
    "pprint",
    "reprlib",
    "weakref",
    "types",
    "array",
    "mmap",
    "select",
    "selectors",
    "signal",
    "multiprocessing",
    "concurrent.futures",
    "sched",
    "ssl",
    "ftplib",
    "smtplib",
    "imaplib",
    "xml.etree.ElementTree",
    "xml.dom.minidom",
    "doctest",
    "unittest",
    "pdb",
    "timeit",
    "trace",
    "ast",
    "dis",
    "tokenize",
    "token",
    "keyword",
    "importlib",
    "pkgutil",
    "zipimport",
    "runpy",
    "sysconfig",
    "bz2",
    "lzma",
    "filecmp",
    "stat",
    "fileinput",
    "netrc",
    "plistlib",
    "mailbox",
    "mimetypes",
    "quopri",
    "binascii",
    "ipaddress",
    "wsgiref.util",
    "cmd",
    "code",
    "codeop",
    "graphlib",
    "numbers",
    "cmath",
    "colorsys",
    "wave",
    "getpass",
    "curses.ascii",
    "optparse",
    "getopt",
    "string",
    "secrets",
    "tomllib",
    "zoneinfo",
]


def make_chunks(n_chunks=1000, words_per_chunk=110):
    # The Python reference manual's topic pages shipped in the stdlib (pydoc_data), then docstrings.
    import pydoc_data.topics as topics

    texts = [re.sub(r"\s+", " ", topics.topics[k]).strip() for k in sorted(topics.topics)]
    seen = set()
    for m in CHUNK_MODULES:
        try:
            mod = importlib.import_module(m)
        except Exception:  # noqa: BLE001 - a stdlib name that cannot be read is skipped
            continue
        objs = [mod] + [getattr(mod, n, None) for n in sorted(dir(mod)) if not n.startswith("_")]
        for obj in objs:
            doc = getattr(obj, "__doc__", None)
            if not isinstance(doc, str) or len(doc) < 80 or doc in seen:
                continue
            seen.add(doc)
            texts.append(re.sub(r"\s+", " ", doc).strip())
    words = " ".join(texts).split(" ")
    need = n_chunks * words_per_chunk
    if len(words) < need:
        sys.exit(f"only {len(words)} words, need {need}")
    (OUT / "data").mkdir(exist_ok=True)
    with open(OUT / "data" / "chunks.jsonl", "w") as f:
        for k in range(n_chunks):
            w = words[k * words_per_chunk : (k + 1) * words_per_chunk]
            f.write(json.dumps({"id": k, "text": " ".join(w)}) + "\n")
    print(f"chunks={n_chunks} words_available={len(words)}")


if __name__ == "__main__":
    main()
