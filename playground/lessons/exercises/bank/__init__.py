"""The lessons' exercises, a plain ``EXERCISES`` list per module (two lessons each): each with a
reference, fresh random cases, known mistakes with their hints, and a piece of wrong code per
mistake (tests check every one gets its own hint). :mod:`..registry` indexes them by id."""
