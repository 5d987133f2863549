"""Per task type: the metrics that answer "is it good?" for that kind of answer.

Each module scores one example at a time into a small row of numbers (`score_example`) and turns any list of
rows into the headline numbers (`headline`). Keeping rows per example is what makes bootstrap intervals and
paired tests cheap: resampling rows and calling `headline` again is all they need.
"""
