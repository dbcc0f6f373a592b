"""For learners: the worked example and its reconciliation (:mod:`.tutorial`), one step
with every quantity named (:mod:`.trace`), drawn (:mod:`.diagram`) and made a page
(:mod:`.page`), and the loss curves (:mod:`.plots`)."""
