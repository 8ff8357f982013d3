package genome_test

import (
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/seqdiff/seqdiff/genome"
)

// Stream the records of a FASTA file. Lower case reads as upper case and
// IUPAC ambiguity codes as N.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "genome")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tiny.fa")
	os.WriteFile(path, []byte(">chr1 a tiny genome\nACGTac\ngtRY\n>chrM\nGATTACA\n"), 0o644)

	r, err := genome.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s (%s): %s\n", rec.Name, rec.Desc, rec.Seq)
	}
	// Output:
	// chr1 (a tiny genome): ACGTACGTNN
	// chrM (): GATTACA
}

// Index a FASTA file as samtools faidx does, then read a slice of a record
// by random access, naming the chromosome the other convention's way.
func ExampleOpenIndexed() {
	dir, _ := os.MkdirTemp("", "genome")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tiny.fa")
	os.WriteFile(path, []byte(">chr1\nACGTA\nCGTAC\nGT\n>chrM\nGATTACA\n"), 0o644)

	idx, err := genome.BuildFai(path)
	if err != nil {
		log.Fatal(err)
	}
	if err := genome.WriteFai(path+".fai", idx); err != nil {
		log.Fatal(err)
	}
	x, err := genome.OpenIndexed(path)
	if err != nil {
		log.Fatal(err)
	}
	defer x.Close()
	name, err := genome.ResolveName("MT", x.Names())
	if err != nil {
		log.Fatal(err)
	}
	s, _ := x.Fetch(name, 1, 5)
	t, _ := x.Fetch("chr1", 3, 12)
	fmt.Println(name, string(s))
	fmt.Println(string(t), string(genome.ReverseComplement(t)))
	// Output:
	// chrM ATTA
	// TACGTACGT ACGTACGTA
}
