from colorgan.errors import first_line


def test_first_line_is_the_first_nonblank_line_or_the_type():
    assert first_line(ValueError("\n  shapes differ: (3,) vs (4,)\n  at layer conv1\n")) \
        == "shapes differ: (3,) vs (4,)"
    assert first_line(KeyError()) == "KeyError"
    assert first_line(OSError("   \n")) == "OSError"
    assert first_line(RuntimeError("x" * 500)) == "x" * 200


def test_a_failed_assertion_inside_a_tf_function_is_its_message():
    """TF's graph errors start with where the op was defined; the line is the assertion's."""
    import pytest
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([], tf.int64)], autograph=False)
    def small(x):
        with tf.control_dependencies([tf.debugging.assert_less_equal(
                x, tf.constant(3, tf.int64), message="too many pixels [x]")]):
            return tf.identity(x)

    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        small(tf.constant(5, tf.int64))
    assert str(raised.value).startswith("Graph execution error")  # what the rule is for
    assert first_line(raised.value) == "too many pixels [x]"
