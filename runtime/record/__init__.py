"""Recording: what happens while the model trains, on the graph side and the host side.

``graph`` walks the model's layers as ``fit`` would; ``fitting`` is Keras's fitting machinery around the loop
(data, epochs, validation, callbacks); ``probe`` collects the tensors of each step and ``stats`` reduces them in
the graph to one statistics matrix per step; ``distributed`` does that across replicas; ``facts`` is what the
model and its compile configuration say; ``trace`` keeps the rows on the host and journals them to disk.

Nothing here reads a finding or writes a report. The one call upwards: the probe hands each block of rows to
the online analysis (``analysis.online.Monitor``), which may stop training.
"""
