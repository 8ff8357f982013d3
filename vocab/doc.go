// Package vocab holds the token vocabularies every other package shares:
// the DNA token ids, defined here once (the Caduceus character-level
// convention of docs/design.md), and Vocab, the ids that the objectives,
// samplers and scorers need of any vocabulary, DNA or text.
//
// Nothing else in seqdiff writes a DNA id as a number: prep encodes with
// these constants, the model presets take Mask and Pad from here, the
// samplers draw from DNA().Samplable and reverse complement goes through
// Complement.
package vocab
