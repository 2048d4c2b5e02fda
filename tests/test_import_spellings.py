"""Every way of importing Keras 3 resolves to the same rewrite (libcst qualified names, not strings)."""

import pytest

from dnn_instrument.transformer import instrument

SPELLINGS = {
    "import keras": "import keras\nmodel = keras.Sequential([keras.layers.Dense(1)])",
    "from tensorflow import keras": "from tensorflow import keras\nmodel = keras.models.Sequential([keras.layers.Dense(1)])",
    "import tensorflow as tf": "import tensorflow as tf\nmodel = tf.keras.Sequential([tf.keras.layers.Dense(1)])",
    "from keras import layers, models": "from keras import layers, models\nmodel = models.Sequential([layers.Dense(1)])",
    "from keras.models import Sequential": "from keras.models import Sequential\nfrom keras.layers import Dense\nmodel = Sequential([Dense(1)])",
    "import keras as K": "import keras as K\nmodel = K.Sequential([K.layers.Dense(1)])",
    "from tensorflow.keras.models import Model": (
        "from tensorflow.keras.models import Model\nfrom tensorflow.keras.layers import Input, Dense\n"
        "i = Input((3,))\nmodel = Model(i, Dense(1)(i))"
    ),
    "import tensorflow.keras as tfk": "import tensorflow.keras as tfk\nmodel = tfk.Model(inputs=[], outputs=[])",
    "from keras import Model": "from keras import Model, Input\nfrom keras.layers import Dense\ni = Input((3,))\nmodel = Model(i, Dense(1)(i))",
    "keras.models.load_model": "import keras\nmodel = keras.models.load_model('m.keras')",
    "tf.keras.applications": "import tensorflow as tf\nmodel = tf.keras.applications.MobileNetV2(weights=None)",
}


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_spelling_is_rewritten(spelling):
    source = SPELLINGS[spelling] + "\nmodel.compile(loss='mse')\nmodel.fit(x, y)\n"
    result = instrument(source, "t.py")
    assert result.rewritten == 1, result.messages
    assert "instrumented_fit('t.py:" in result.code


@pytest.mark.parametrize(
    "source",
    [
        "from mylib import Sequential\nmodel = Sequential()\nmodel.fit(x, y)\n",  # a Sequential that is not Keras
        "import sklearn.linear_model as lm\nclf = lm.LogisticRegression()\nclf.fit(x, y)\n",
        "model = object()\nmodel.fit(x, y)\n",
    ],
)
def test_non_keras_fit_is_left_alone(source):
    result = instrument(source, "t.py")
    assert not result.changed
    assert result.code == source
    assert result.messages == []


def test_shadowed_name_is_not_keras():
    source = "import keras\n\ndef f(keras):\n    model = keras.Sequential()\n    model.fit(x)\n"
    assert not instrument(source, "t.py").changed


def test_builder_returning_a_model_is_followed():
    source = (
        "from keras import Sequential, layers\n"
        "def make(units):\n    m = Sequential()\n    m.add(layers.Dense(units))\n    return m\n"
        "def train():\n    model = make(3)\n    model.compile(loss='mse')\n    model.fit(x, y, epochs=2)\n"
    )
    assert instrument(source, "t.py").rewritten == 1
