package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// writeByteTokenizer writes a CLIP tokenizer folder that spells every text byte by byte: the 256
// byte symbols of CLIP's byte-level BPE (and their end-of-word forms), no merges, CLIP's start
// and end tokens at their real ids. The sample phase only needs prompts turned into ids of the
// right length: which ids they are does not change the cost, and the real 49 408-token
// vocabulary would be a download. The start and end tokens take the last two ids of a smaller
// vocabulary (at least 514).
func writeByteTokenizer(dir string, maxLength, vocabSize int) error {
	if vocabSize < 514 {
		return fmt.Errorf("byte tokenizer: vocab_size %d, want at least 514", vocabSize)
	}
	vocab := map[string]int{"<|startoftext|>": vocabSize - 2, "<|endoftext|>": vocabSize - 1}
	for i, r := range byteSymbols() {
		vocab[string(r)] = i
		vocab[string(r)+"</w>"] = 256 + i
	}
	vocabJSON, err := json.Marshal(vocab)
	if err != nil {
		return err
	}
	cfg, err := json.Marshal(map[string]any{
		"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
		"pad_token": "<|endoftext|>", "model_max_length": maxLength, "tokenizer_class": "CLIPTokenizer",
	})
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{
		"vocab.json": vocabJSON, "merges.txt": []byte("#version: 0.2\n"), "tokenizer_config.json": cfg,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// byteSymbols is byte-level BPE's printable stand-in for each byte (GPT-2's bytes_to_unicode):
// the printable Latin-1 bytes stand for themselves, the others for 256, 257, ... in byte order.
func byteSymbols() [256]rune {
	var out [256]rune
	next := rune(256)
	for b := range 256 {
		switch {
		case b >= '!' && b <= '~', b >= 0xA1 && b <= 0xAC, b >= 0xAE && b <= 0xFF:
			out[b] = rune(b)
		default:
			out[b] = next
			next++
		}
	}
	return out
}
