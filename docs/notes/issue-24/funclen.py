#!/usr/bin/env python3
"""Function lengths in C++ sources: from a function's opening line to its closing brace at
column 0 (the style of this tree: definitions start at column 0 and end with '}' at column 0).
A definition starts at a line at column 0 that is not a comment, preprocessor line, namespace,
class/struct/enum or access label, and whose statement reaches a '{' before any ';'."""
import re, sys, pathlib

SKIP = re.compile(r'^(#|//|/\*|\*|namespace\b|}|using\b|extern "C"|template\b|class\b|struct\b|enum\b|union\b|typedef\b|static_assert\b|public:|private:|protected:)')

def functions(path):
    lines = pathlib.Path(path).read_text().split('\n')
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        if line and not line[0].isspace() and not SKIP.match(line) and '(' in line:
            # gather the head until '{' or ';'
            j, head = i, ''
            while j < len(lines):
                head += lines[j] + '\n'
                code = re.sub(r'//.*', '', head)
                if '{' in code or ';' in code:
                    break
                j += 1
            code = re.sub(r'//.*', '', head)
            if '{' in code and (';' not in code or code.index('{') < code.index(';')) and '=' not in code.split('(')[0]:
                # one-line body?
                if code.rstrip().endswith('}') and code.count('{') == code.count('}'):
                    out.append((j - i + 1, path, i + 1, line.strip()))
                    i = j + 1
                    continue
                k = j + 1
                while k < len(lines) and not lines[k].startswith('}'):
                    k += 1
                out.append((k - i + 1, path, i + 1, line.strip()))
                i = k + 1
                continue
        i += 1
    return out

files = [f for d in sys.argv[1:] for f in sorted(pathlib.Path(d).glob('*.cpp'))]
res = [r for f in files for r in functions(str(f))]
res.sort(key=lambda r: -r[0])
for n, p, ln, head in res[:int(__import__('os').environ.get('TOP', '5'))]:
    print(f'{n:4d}  {p}:{ln}  {head[:90]}')
