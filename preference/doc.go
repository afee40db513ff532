// Package preference turns rewards into preference labels with the Bradley-Terry model, as RPO
// does (Eq. 6 of Miao et al., NeurIPS 2024):
//
//	P(x_ref ≻ x_gen) = σ(r_ref − r_gen)
//
// Each training example is a Pair: a reference photo of the subject, an image the base model
// generated for a training prompt, that prompt, and both images' rewards. A Sampler draws the
// label y ~ Bernoulli(σ(r_ref − r_gen)) from a caller-seeded source; RPO redraws it every time a
// pair is visited, so a pair with close rewards teaches both directions over training. The same
// seed gives the same labels, and the Sampler's state can be saved and restored with a checkpoint.
package preference
