"""What every other part stands on, importing nothing of fastbp's: the tables of
activations and losses (:mod:`.functions`), safe file writing and private directories
(:mod:`.files`), and signal handling (:mod:`.signals`)."""
