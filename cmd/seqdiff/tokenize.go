package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/vocab"
)

func init() { register(newTokenizeCmd) }

type tokenizeOptions struct {
	tokenizer string
	decode    bool
	special   bool
}

func newTokenizeCmd() *cobra.Command {
	o := &tokenizeOptions{}
	cmd := &cobra.Command{
		Use:   "tokenize --tokenizer NAME [--decode] TEXT|-",
		Short: "Print the token ids of a text, or with --decode the text of ids",
		Long: `tokenize prints the ids of TEXT (or of standard input with -), space-separated,
as the tokenizer NAME makes them: dna (the character-level DNA vocabulary),
bert-base-uncased (WordPiece) or gpt2 (byte-level BPE). Special token names in
the text ([CLS], [SEP], [MASK], [PAD], [UNK]; <|endoftext|> for gpt2) read as
their ids. --add-special frames the text the way prep frames an lm1b
sentence ([CLS] … [SEP] for bert-base-uncased, <|endoftext|> … <|endoftext|>
for gpt2).

With --decode, TEXT holds ids separated by spaces or commas and tokenize
prints their text. With -, the final newline of standard input is dropped.`,
		Example: `  seqdiff tokenize --tokenizer gpt2 "Hello world, the quick brown fox."
  seqdiff tokenize --tokenizer bert-base-uncased --add-special "Hello, world!"
  seqdiff tokenize --tokenizer bert-base-uncased --decode "101 7592 1010 2088 999 102"
  echo ACGTN | seqdiff tokenize --tokenizer dna -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, args[0])
		},
	}
	f := cmd.Flags()
	choiceVar(cmd, &o.tokenizer, "tokenizer", "", []string{"dna", vocab.DNATokenizer, dataprep.BertTokenizerName, dataprep.GPT2TokenizerName}, "tokenizer")
	f.BoolVar(&o.decode, "decode", false, "read ids and print their text")
	f.BoolVar(&o.special, "add-special", false, "add the sentence's BOS and EOS ids around the text's")
	required(cmd, "tokenizer")
	return cmd
}

func (o *tokenizeOptions) run(cmd *cobra.Command, arg string) error {
	tok, err := dataprep.TokenizerByName(o.tokenizer)
	if err != nil {
		return fmt.Errorf("tokenize: %w", err)
	}
	text := []byte(arg)
	if arg == "-" {
		if text, err = io.ReadAll(cmd.InOrStdin()); err != nil {
			return fmt.Errorf("tokenize: standard input: %w", err)
		}
		// The newline that ends the input (echo, a file) is not part of the text.
		text = []byte(strings.TrimSuffix(strings.TrimSuffix(string(text), "\n"), "\r"))
	}
	out := cmd.OutOrStdout()
	if o.decode {
		ids, err := parseIDs(string(text))
		if err != nil {
			return fmt.Errorf("tokenize --decode: %w", err)
		}
		s, err := tok.Decode(ids)
		if err != nil {
			return fmt.Errorf("tokenize --decode: %w", err)
		}
		_, err = fmt.Fprintln(out, s)
		return err
	}
	ids, err := tok.Encode(text)
	if err != nil {
		return fmt.Errorf("tokenize: %w", err)
	}
	if o.special {
		sp := tok.Special()
		if sp.BOS < 0 || sp.EOS < 0 {
			return fmt.Errorf("tokenize: --add-special: %s has no BOS/EOS", tok.Name())
		}
		ids = append(append([]int32{int32(sp.BOS)}, ids...), int32(sp.EOS))
	}
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(int(id)))
	}
	_, err = fmt.Fprintln(out, b.String())
	return err
}

// parseIDs reads ids separated by spaces, commas or brackets ("[101, 102]"
// as Python prints a list).
func parseIDs(s string) ([]int32, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r == ',' || r == '\t' || r == '\n' || r == '\r' || r == '[' || r == ']'
	})
	ids := make([]int32, 0, len(fields))
	for i, f := range fields {
		v, err := strconv.ParseInt(f, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("id %d: %q is not an integer", i+1, f)
		}
		ids = append(ids, int32(v))
	}
	return ids, nil
}
