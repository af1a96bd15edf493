from colorgan.errors import first_line


def test_first_line_is_the_first_nonblank_line_or_the_type():
    assert first_line(ValueError("\n  shapes differ: (3,) vs (4,)\n  at layer conv1\n")) \
        == "shapes differ: (3,) vs (4,)"
    assert first_line(KeyError()) == "KeyError"
    assert first_line(OSError("   \n")) == "OSError"
    assert first_line(RuntimeError("x" * 500)) == "x" * 200
