"""Checks that README.md's C++ API example is, verbatim, the one between the
markers in examples/consumer/main.cpp, which the package tests compile.

Usage: check_readme_example.py README.md examples/consumer/main.cpp
"""
import sys


def readme_block(text):
    start = text.index("## The C++ API")
    begin = text.index("```cpp\n", start) + len("```cpp\n")
    return text[begin:text.index("```\n", begin)]


def source_block(text):
    begin = text.index("// BEGIN README EXAMPLE\n") + len("// BEGIN README EXAMPLE\n")
    return text[begin:text.index("// END README EXAMPLE\n", begin)]


def main():
    readme, source = (open(path, encoding="utf-8").read() for path in sys.argv[1:3])
    if readme_block(readme) != source_block(source):
        print(f"{sys.argv[1]}'s C++ API example differs from the one in {sys.argv[2]}:")
        print(readme_block(readme))
        return 1
    print("README example matches")
    return 0


if __name__ == "__main__":
    sys.exit(main())
